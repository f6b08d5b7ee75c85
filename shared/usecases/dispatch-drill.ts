/**
 * The monthly physical drill's execution input, made by the dispatcher: a logical backup drawn
 * at random inside the PITR window (drawn here, so the execution names it), and the task sized
 * from the base backup it recovers and the WAL it replays — not the 200 GiB fallback.
 */
import type { ExecutionInput } from '../domain/invoke/execution';
import type { TaskResources } from '../domain/task-sizing';
import type { PitrDeps } from './pitr';
import { chooseDrillBackup } from './pitr-drill/choose';
import { physicalDrillSizeOf, sizeDrill } from './restore/resources';

/** The job the validation task takes for a physical drill. */
export interface PhysicalDrillJob {
  backupId: string;
  database: string;
  pitr: true;
}

/**
 * @throws what chooseDrillBackup throws (no logical backup inside the window); what
 *   physicalDrillSizeOf throws (no base backup, a WAL gap); BACKUP_TOO_LARGE_FOR_TASK.
 */
export async function physicalDrillInput(deps: PitrDeps & { random?: () => number }, database: string): Promise<ExecutionInput<PhysicalDrillJob> & { resources: TaskResources }> {
  const backup = await chooseDrillBackup(deps.catalog, 'random', database, deps.random);
  const { resources } = sizeDrill(await physicalDrillSizeOf(deps, backup));
  deps.log.info('dispatch: physical drill sized', { database, backupId: backup.id, ...resources });
  return { job: { backupId: backup.id, database, pitr: true }, resources };
}
