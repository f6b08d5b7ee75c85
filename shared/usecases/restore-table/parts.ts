/**
 * A table restore from a `streams` backup (docs/restore.md "Parallel backups"): the tables'
 * definitions come from the pre-data part and their rows from the data part that holds each
 * table (partHolding); only those parts are downloaded, each checked against its SHA-256.
 * The tables of contents of the parts number their entries independently, so the data entries
 * are matched to their definitions by the table's oid (the same snapshot wrote every part)
 * and restored from their own archive.
 *
 * `--mode recreate` reads the schema part instead of the pre-data one: a schema-only archive
 * holds the definitions and the indexes, constraints and triggers with their dependencies on
 * the tables, which the post-data part loses. Each table's rows come right after its
 * definition, as its TABLE DATA entry would in a whole dump. A parallel backup written before
 * the schema part existed is refused for recreate.
 */
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { Manifest } from '../../domain/manifest';
import { hasParts, partHolding, schemaPart, type DumpPart } from '../../domain/manifest-parts';
import { displayTable, type RestoreTablePlan } from '../../domain/restore-table-plan';
import { StrongboxError } from '../../errors';
import type { RestoreTools } from '../../ports/restore';
import type { Storage } from '../../ports/storage';
import type { TableRestoreTools } from '../../ports/restore-table';
import { downloadDump } from '../restore/download';
import { readArchiveContents } from '../restore/steps';
import { parseToc, selectTables, type TableSelection, type TocEntry } from './toc';
import { summarise } from '../../domain/alerts/bounded';

/** The archives of a table restore from parts: the definitions, and each data part needed. */
export interface PartFiles {
  /** The pre-data part, or for recreate the schema part. */
  file: string;
  data: string[];
}

/** A selection over parts: the pre-data list, and one `pg_restore -L` list per data archive. */
export interface PartsSelection extends TableSelection {
  toc: TocEntry[];
  dataLists: Array<{ file: string; list: string }>;
}

/** The data parts that hold the plan's tables, each once, in the manifest's order. */
export function partsFor(manifest: Manifest, plan: Pick<RestoreTablePlan, 'tables'>): DumpPart[] {
  const wanted = new Set(plan.tables.map((t) => partHolding(manifest, t)?.key));
  return (manifest.objects.parts ?? []).filter((part) => wanted.has(part.key));
}

/**
 * Downloads the pre-data part and the data parts holding the plan's tables into `folder`,
 * each checked as downloadDump checks a dump.
 *
 * @throws as downloadDump (CHECKSUM_MISMATCH naming the part).
 */
export async function fetchParts(
  options: { storage: Storage; tools: RestoreTools; manifest: Manifest; folder: string; signal?: AbortSignal; onBytes?: (bytes: number, total: number) => void },
  plan: Pick<RestoreTablePlan, 'tables' | 'mode'>,
): Promise<PartFiles> {
  const { manifest } = options;
  const fetch = async (part: { key: string; bytes: number; sha256: string }, name: string): Promise<string> => {
    const folder = join(options.folder, name);
    await mkdir(folder, { mode: 0o700 });
    return downloadDump({ ...options, folder, object: part });
  };
  const schema = plan.mode === 'recreate' ? schemaPart(manifest) : undefined;
  const file = await fetch(schema ?? manifest.objects.dump, schema ? 'schema' : 'pre-data');
  const data: string[] = [];
  for (const [index, part] of partsFor(manifest, plan).entries()) data.push(await fetch(part, `data-${index + 1}`));
  return { file, data };
}

/**
 * `toc` with each of `rows` (TABLE DATA entries of other archives) placed right after the TABLE
 * entry of the same oid and depending on it, as in a whole dump's order: after the definition,
 * before the indexes, constraints and triggers that come after it. Rows without a definition
 * are left out. Pure.
 */
export function withRows(toc: TocEntry[], rows: TocEntry[]): TocEntry[] {
  const byOid = new Map(rows.map((row) => [row.oid, row]));
  return toc.flatMap((entry) => {
    const row = isDefinition(entry) ? byOid.get(entry.oid) : undefined;
    return row ? [entry, { ...row, dependsOn: [entry.id] }] : [entry];
  });
}

function isDefinition(entry: TocEntry): boolean {
  return entry.text.startsWith('TABLE ') && !entry.text.startsWith('TABLE DATA ') && !entry.text.startsWith('TABLE ATTACH ');
}

/**
 * The dry run's selection from the schema part alone (no data part downloaded): its table of
 * contents with a stand-in rows entry after each table's definition.
 *
 * @throws StrongboxError ARCHIVE_INVALID; TABLE_NOT_IN_BACKUP when a table's definition is not in it.
 */
export async function selectFromSchema(tools: TableRestoreTools, file: string, plan: RestoreTablePlan, signal?: AbortSignal): Promise<{ toc: TocEntry[]; found: TableSelection['found'] }> {
  const toc = parseToc(await readArchiveContents(tools, file, plan.backup.id, signal));
  const rows = toc.filter(isDefinition).map((entry, index) => ({ id: -(index + 1), oid: entry.oid, text: `TABLE DATA ${entry.text.slice('TABLE '.length)}`, line: '', dependsOn: [] }));
  const merged = withRows(toc, rows);
  const selection = selectTables(merged, plan.tables);
  if (selection.missing.length) throw lacking(plan, selection.missing);
  return { toc: merged, found: selection.found };
}

function lacking(plan: RestoreTablePlan, missing: TableSelection['missing']): StrongboxError {
  const listed = summarise(missing.map((t) => `${displayTable(t)} (no ${t.lacks === 'definition' ? 'TABLE' : 'TABLE DATA'} entry)`), { separator: ', ' });
  return new StrongboxError('TABLE_NOT_IN_BACKUP', `the parts of backup ${plan.backup.id} lack ${missing.length} table(s): ${listed}, although its manifest lists them`, 'the backup does not hold what its manifest declares: restore from another backup (`strongbox list`)');
}

/** Data entries get ids that cannot meet the pre-data part's: -(1e9 × part + id). */
const PART_STRIDE = 1_000_000_000;

/**
 * Lists every archive and chooses, as selectFromArchive does for one archive, each table's
 * definition with what it depends on (pre-data) and its rows (the data part's TABLE DATA
 * entry with the definition's oid).
 *
 * @throws StrongboxError ARCHIVE_INVALID when pg_restore cannot read a part; TABLE_NOT_IN_BACKUP
 *   when a table's definition or rows are in none of them.
 */
export async function selectFromParts(tools: TableRestoreTools, files: PartFiles, plan: RestoreTablePlan, signal?: AbortSignal): Promise<PartsSelection> {
  const toc = parseToc(await readArchiveContents(tools, files.file, plan.backup.id, signal));
  const origin = new Map<number, { file: string; line: string }>();
  const dataEntries: TocEntry[] = [];
  for (const [index, file] of files.data.entries()) {
    for (const entry of parseToc(await readArchiveContents(tools, file, plan.backup.id, signal))) {
      if (!entry.text.startsWith('TABLE DATA ')) continue;
      const id = -(PART_STRIDE * (index + 1) + entry.id);
      origin.set(id, { file, line: entry.line });
      dataEntries.push({ ...entry, id, dependsOn: [] });
    }
  }
  const selection = selectTables([...toc, ...dataEntries], plan.tables);
  if (selection.missing.length) throw lacking(plan, selection.missing);
  const own = selection.entries.filter((e) => e.id >= 0);
  const byFile = new Map<string, string[]>();
  for (const entry of selection.entries.filter((e) => e.id < 0)) {
    const from = origin.get(entry.id)!;
    byFile.set(from.file, [...(byFile.get(from.file) ?? []), from.line]);
  }
  return {
    ...selection,
    list: `${own.map((e) => e.line).join('\n')}\n`,
    entries: own,
    toc: withRows(toc, dataEntries),
    dataLists: [...byFile].map(([file, lines]) => ({ file, list: `${lines.join('\n')}\n` })),
  };
}

/**
 * `--mode recreate` needs the indexes, constraints and triggers with their dependencies: a
 * parallel backup without its schema part has them only in the post-data part, which loses
 * them. Throws StrongboxError RESTORE_TABLE_REFUSED for such a backup.
 */
export function assertRecreatable(manifest: Manifest, backupId: string): void {
  if (hasParts(manifest) && !schemaPart(manifest)) throw refuseRecreateFromParts(backupId);
}

function refuseRecreateFromParts(backupId: string): StrongboxError {
  return new StrongboxError(
    'RESTORE_TABLE_REFUSED',
    `--mode recreate cannot read backup ${backupId}: it is a parallel (streams) backup written before backups had a schema part, and its post-data part does not say which indexes, constraints and triggers belong to which table`,
    'for a dropped table: `strongbox restore-table --time <a moment before the drop> --mode recreate` (the table as it was then, from a base backup and the WAL); or --mode replace, append or side-by-side from this backup, or --mode recreate from a single-stream backup (`strongbox list`)',
  );
}
