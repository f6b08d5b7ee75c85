/**
 * The archive endpoint's use cases, free of any transport (docs/wal.md): the node:http
 * server of local mode and the Lambda Function URL call the same functions.
 */
export type { WalArchiveDeps } from './deps';
export { parseWalDeclaration, walDeclarationSchema, assertWalTarget, declareWalFile, type DeclaredWalFile, type WalDeclaration } from './declaration';
export { BodyTooLargeError, SystemIdMismatchError, UploadInterruptedError, WalChecksumMismatchError, WalConflictError, WalNotFoundError } from './errors';
export { archiveIdentity } from './identity';
export { prepareWalPush, storeWalBody, completeWalPush, type PushPlan, type PushOutcome } from './push';
export { storeEncodedWal, type EncodedWalFile } from './store-encoded';
export { prepareWalFetch, readWalBody, type FetchPlan } from './fetch';
