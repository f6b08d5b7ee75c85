/**
 * The checks of a table restore between download and scratch database: the manifest describes
 * the chosen backup, the archive is readable, and its table of contents holds each table.
 */
import type { Manifest } from '../../domain/manifest';
import { displayTable, type RestoreTablePlan } from '../../domain/restore-table-plan';
import { ManifestError, StrongboxError } from '../../errors';
import type { TableRestoreTools } from '../../ports/restore-table';
import { readArchiveContents } from '../restore/steps';
import { parseToc, selectTables, type TableSelection, type TocEntry } from './toc';
import { summarise } from '../../domain/alerts/bounded';

/**
 * The manifest must describe the entry the plan chose: a logical backup with that dump.
 *
 * @throws ManifestError saying how it differs.
 */
export function assertManifestOf(manifest: Manifest, plan: RestoreTablePlan): void {
  const { backup } = plan;
  const problem =
    manifest.id !== backup.id ? `it describes backup ${manifest.id}` :
    manifest.kind !== 'logical' ? 'it describes a base backup' :
    manifest.objects.dump.key !== backup.key ? `its dump is ${manifest.objects.dump.key}, the catalog's ${backup.key}` : undefined;
  if (problem) throw new ManifestError(backup.manifestKey, `${problem}, not the logical backup ${backup.id} of the catalog`);
}

/**
 * Lists the archive and chooses the entries that rebuild the plan's tables (its whole table of
 * contents returned too).
 *
 * @throws StrongboxError ARCHIVE_INVALID when pg_restore cannot read it; TABLE_NOT_IN_BACKUP
 *   when a table's definition or rows are not in it.
 */
export async function selectFromArchive(tools: TableRestoreTools, file: string, plan: RestoreTablePlan, signal?: AbortSignal): Promise<TableSelection & { toc: TocEntry[] }> {
  const toc = parseToc(await readArchiveContents(tools, file, plan.backup.id, signal));
  const selection = selectTables(toc, plan.tables);
  if (selection.missing.length) {
    const listed = summarise(selection.missing.map((t) => `${displayTable(t)} (no ${t.lacks === 'definition' ? 'TABLE' : 'TABLE DATA'} entry)`), { separator: ', ' });
    throw new StrongboxError('TABLE_NOT_IN_BACKUP', `the dump of backup ${plan.backup.id} lacks ${selection.missing.length} table(s): ${listed}, although its manifest lists them`, 'the backup does not hold what its manifest declares: restore from another backup (`strongbox list`)');
  }
  return { ...selection, toc };
}
