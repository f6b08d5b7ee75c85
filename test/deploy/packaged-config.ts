import { createRequire } from 'node:module';
import { parseDeployConfig, type DeployConfig } from '../../shared/domain/deploy-config';

// The config deploy/schedules.cjs compiles into the bundles (esbuild define), for tests that
// run a handler outside its bundle.
const require = createRequire(import.meta.url);
const resolvers = require('../../deploy/schedules.cjs') as { deployConfigOf(config: unknown): unknown; readConfig(file: string): unknown };

/** The packaged config of `configFile` (relative to the service folder), as a function reads it. */
export function packagedConfigOf(configFile: string): DeployConfig {
  return parseDeployConfig(JSON.stringify(resolvers.deployConfigOf(resolvers.readConfig(configFile))));
}
