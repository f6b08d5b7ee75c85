/**
 * Which logical backup's instant a physical drill recovers to: an id, the newest one inside the
 * PITR window (`latest`), or one drawn at random inside it (`random`), so that over months every
 * part of the window is exercised. Inside the window: a VERIFIED full logical backup that began
 * after a VERIFIED base backup of its database had ended (the plan then proves the WAL).
 */
import type { Catalog } from '../../ports/catalog';
import type { BackupEntry } from '../../domain/backup';
import { StrongboxError } from '../../errors';
import { resolveDrillBackup } from '../validate/steps';

/** `latest`, `random`, or a logical backup id. */
export type DrillChoice = 'latest' | 'random' | (string & {});

/**
 * @throws BACKUP_NOT_FOUND when no logical backup lies inside the window; what
 *   resolveDrillBackup throws for an id (not VERIFIED, not full, unknown…).
 */
export async function chooseDrillBackup(catalog: Catalog, choice: DrillChoice, database: string | undefined, random: () => number = Math.random): Promise<BackupEntry> {
  if (choice !== 'latest' && choice !== 'random') return resolveDrillBackup(catalog, choice, database);
  const logical = (database === undefined ? await catalog.listAll({ kind: 'logical' }) : await catalog.listByDatabase(database, { kind: 'logical' }))
    .filter((e) => e.kind === 'logical' && e.scope === 'full' && e.state === 'VERIFIED' && !e.deleting);
  // Without --database: the database of the newest logical backup.
  const db = database ?? logical[0]?.database;
  const bases = db === undefined ? [] : (await catalog.listByDatabase(db, { kind: 'base' })).filter((e) => e.kind === 'base' && e.state === 'VERIFIED' && !e.deleting && e.finishedAt);
  const oldestBaseEnd = bases.map((e) => e.finishedAt!).sort()[0];
  const inside = logical.filter((e) => e.database === db && oldestBaseEnd !== undefined && e.startedAt >= oldestBaseEnd);
  if (inside.length === 0) {
    const of = db === undefined ? '' : ` of database "${db}"`;
    throw new StrongboxError(
      'BACKUP_NOT_FOUND',
      `no VERIFIED full logical backup${of} lies inside the PITR window (${bases.length === 0 ? 'there is no VERIFIED base backup' : `none began after the oldest base backup ended, ${oldestBaseEnd}`})`,
      `take a base backup (\`strongbox backup --type base\`), then a logical one (\`strongbox backup\`); the drill recovers the first to the second's instant`,
    );
  }
  if (choice === 'latest') return inside[0]!;
  return inside[Math.min(inside.length - 1, Math.floor(random() * inside.length))]!;
}
