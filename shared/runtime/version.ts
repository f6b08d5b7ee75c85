import pkg from '../../package.json';

/** Strongbox's version, recorded in every manifest. */
export const STRONGBOX_VERSION: string = pkg.version;
