import { ConsoleAlertPublisher } from '../adapters/sns/console-alerts';
import type { StrongboxConfig } from '../config';
import { loadConfig } from '../local/config-file';
import { openLocalContext, type LocalContext } from '../local/context';
import { resolveHome } from '../local/home';
import { stderrLog } from '../local/stderr-log';
import type { Output } from './output';

/** What a command runs with: the local context, the config and the environment. */
export interface Session {
  context: LocalContext;
  config: StrongboxConfig;
  env: NodeJS.ProcessEnv;
}

/**
 * Opens the local state for one command (sharing a running `npm start`'s catalog when
 * there is one), runs `fn`, and closes what it opened, whatever happens.
 */
export async function withSession<T>(out: Output, fn: (session: Session) => Promise<T>): Promise<T> {
  const env = process.env;
  const { config } = loadConfig(env, process.cwd());
  const paths = resolveHome(env, process.cwd());
  // Logs and alerts share the command's stderr, so that they never land on a progress line.
  const log = stderrLog(out.interactive || env.STRONGBOX_LOG === '1', out.stderr);
  const alertsConsole = new ConsoleAlertPublisher(out.stderr, out.interactive && !out.json ? 'human' : 'json');
  const context = await openLocalContext({ paths, storage: config.storage, alertsConfig: config.alerts, alertsConsole, env, log });
  try {
    return await fn({ context, config, env });
  } finally {
    await context.close();
  }
}
