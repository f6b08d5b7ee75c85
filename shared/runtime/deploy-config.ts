import { parseDeployConfig, type DeployConfig } from '../domain/deploy-config';
import { ConfigError } from '../errors';

/**
 * The config deploy/schedules.cjs compiles into the bundles at packaging (esbuild `define`,
 * see serverless.yml custom.esbuild): not an environment variable, whose 4 KB would hold
 * ~30 databases. Outside a packaged bundle (tests, a local run of a handler) it is read from
 * STRONGBOX_DEPLOY_CONFIG instead.
 */
declare const __STRONGBOX_DEPLOY_CONFIG__: string | undefined;

/** The packaged config, parsed; throws ConfigError when there is none or it is invalid. */
export function packagedDeployConfig(env: NodeJS.ProcessEnv = process.env): DeployConfig {
  const text = typeof __STRONGBOX_DEPLOY_CONFIG__ === 'string' ? __STRONGBOX_DEPLOY_CONFIG__ : env.STRONGBOX_DEPLOY_CONFIG;
  if (!text) {
    throw new ConfigError('this function has no packaged Strongbox config (its databases and schedules)', 'package it with `npx sls package` / `npx sls deploy` (serverless.yml compiles the config in), or set STRONGBOX_DEPLOY_CONFIG to its JSON outside a bundle');
  }
  return parseDeployConfig(text);
}
