import { awsDeps } from '../shared/runtime/aws';
import { lambdaHandler, lambdaLog } from '../shared/runtime/lambda';
import { failStaleBackups } from '../shared/usecases/watchdog';

type WatchdogDeps = Parameters<typeof failStaleBackups>[0];

/** Every 15 minutes: RUNNING backups whose task stopped heart-beating become FAILED (+ alert). */
export function watchdogHandler(deps: WatchdogDeps, staleAfterMs: number) {
  return async (): Promise<{ failed: string[] }> => {
    const failed = await failStaleBackups(deps, staleAfterMs);
    return { failed: failed.map((entry) => entry.id) };
  };
}

let deps: WatchdogDeps | undefined;

export const handler = lambdaHandler('watchdog', () =>
  watchdogHandler((deps ??= awsDeps(process.env, lambdaLog)), Number(process.env.STRONGBOX_STALE_AFTER_SECONDS ?? '600') * 1000)(),
);
