/**
 * The scratch database of a table restore on the target's server: leftovers of killed runs
 * dropped first, and the one of this run marked alive by a session lock on its name, so that
 * a concurrent run never drops a scratch database still in use.
 */
import { isLeftoverScratch } from '../../domain/restore-table-plan';
import { StrongboxError } from '../../errors';
import type { Log } from '../../ports';
import type { RestoreServer } from '../../ports/restore';

/**
 * Marks `scratch` as in use for as long as `server`'s session lives (before it exists, so that
 * no other run ever sees it unclaimed).
 *
 * @throws StrongboxError RESTORE_FAILED when the name is already claimed (a random clash).
 */
export async function claimScratch(server: RestoreServer, scratch: string): Promise<void> {
  if (!(await server.lock(scratch))) {
    throw new StrongboxError('RESTORE_FAILED', `the scratch database name "${scratch}" is in use by another run`, 'run it again: the next name differs');
  }
}

/**
 * Drops the scratch databases of table restores that started no later than this one and whose
 * run is gone (nobody holds their lock); logs each and returns their names. One in use by a
 * live run is left alone.
 */
export async function dropLeftoverScratches(log: Log, server: RestoreServer, current: string, target: string): Promise<string[]> {
  const dropped: string[] = [];
  for (const name of (await server.listDatabases()).filter((n) => isLeftoverScratch(n, current))) {
    if (!(await server.lock(name))) {
      log.info('scratch database of a running table restore left alone', { database: name, target });
      continue;
    }
    await server.dropDatabase(name);
    dropped.push(name);
    log.info('leftover scratch database of a killed table restore dropped', { database: name, target });
  }
  return dropped;
}
