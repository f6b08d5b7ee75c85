/**
 * The check between restore and swap: every table of the manifest exists in the restored
 * database with exactly the row count the backup recorded (a count the manifest marks as an
 * estimate is not compared).
 */
import type { Manifest } from '../../domain/manifest';
import { quoteTable } from '../../domain/table-pattern';
import { StrongboxError } from '../../errors';
import type { RestoredCount } from '../../ports/restore';

/** How many differences a message lists before it says "and N more". */
const LISTED = 20;

/**
 * Compares the restored counts with the manifest's.
 *
 * @throws StrongboxError RESTORE_VERIFICATION_FAILED listing each missing table and each count
 *   that differs.
 */
export function assertCountsMatch(manifest: Manifest, restored: RestoredCount[], database: string): void {
  const found = new Map(restored.map((t) => [quoteTable(t), t.rows]));
  const problems: string[] = [];
  for (const table of manifest.tables) {
    const name = quoteTable(table);
    const rows = found.get(name);
    if (rows === undefined) problems.push(`${name} is missing`);
    // An estimate (a table over the exact-count size, docs/drills.md) is not compared: it only says the table is there.
    else if (!table.estimate && rows !== table.rows) problems.push(`${name} has ${rows} rows, the manifest ${table.rows}`);
  }
  if (problems.length === 0) return;
  const listed = problems.slice(0, LISTED).join('; ') + (problems.length > LISTED ? `; and ${problems.length - LISTED} more` : '');
  throw new StrongboxError(
    'RESTORE_VERIFICATION_FAILED',
    `the restored database "${database}" does not match the manifest of backup ${manifest.id}: ${listed}`,
    'the backup does not hold what its manifest declares: restore another backup (`strongbox list`) and keep this one for investigation',
  );
}
