/**
 * The parallel logical dump (`streams`, issue 15 point 6): how many data parts a backup
 * writes, and which tables each part holds. Pure: no I/O, no clock.
 *
 * A `streams` backup is one exported snapshot read by several `pg_dump -Fc` at once: the
 * pre-data part, N data parts and the post-data part, each a standard custom-format archive
 * stored as its own object (docs/benchmarks.md "Parallel logical dump", docs/restore.md).
 *
 * The data parts: the first is the **rest** part, `pg_dump --section=data` with
 * `--exclude-table-data` of every table another part lists; it holds every table not listed
 * elsewhere, the sequences' values and large objects. The others list their tables with
 * `-t`. Tables go largest first into the lightest part (each partition on its own: a
 * partitioned table splits). A table is listed only while the names listed stay under
 * LISTED_NAMES_MAX_CHARS (they travel in pg_dump's argv twice: `-t` in its part and
 * `--exclude-table-data` in the rest part); past that, the smallest tables stay in the rest part.
 */
import type { TableRef } from '../ports/postgres';
import { exactTablePattern } from './table-pattern';

/** A table and its size on disk (pg_table_size: heap and TOAST, what its data costs to dump). */
export interface SizedTable extends TableRef {
  bytes: number;
}

/** One data part of a streams backup. */
export interface DumpGroup {
  /** The tables it lists (`-t`); for the rest part, the tables no other part lists. */
  tables: TableRef[];
  /** The sum of its tables' sizes. */
  bytes: number;
  /** The rest part: `--exclude-table-data` of every listed table; sequences and large objects too. */
  rest: boolean;
}

/** Characters of table patterns (counted twice, with their flags) past which tables stay in the rest part. */
export const LISTED_NAMES_MAX_CHARS = 256 * 1024;

/** Below this database size a backup is one `pg_dump -Fc` stream unless the config forces `dumpJobs`. */
export const STREAMS_FROM_BYTES = 8 * 1024 ** 3;

/** The most data parts chosen automatically (a forced `dumpJobs` may ask for up to MAX_DUMP_JOBS). */
export const AUTO_MAX_DUMP_JOBS = 8;
export const MAX_DUMP_JOBS = 32;

/**
 * Spreads `tables` over `parts` data parts (parts[0] the rest part), largest first into the
 * lightest part (ties: the earlier part). Deterministic for the same input. Empty listed parts
 * are dropped; the rest part is always there.
 */
export function planDumpGroups(tables: readonly SizedTable[], parts: number, maxListedChars = LISTED_NAMES_MAX_CHARS): DumpGroup[] {
  const count = Math.max(1, Math.floor(parts));
  const groups: DumpGroup[] = Array.from({ length: count }, (_, index) => ({ tables: [], bytes: 0, rest: index === 0 }));
  const ordered = [...tables].sort((a, b) => b.bytes - a.bytes || a.schema.localeCompare(b.schema) || a.name.localeCompare(b.name));
  let listedChars = 0;
  for (const table of ordered) {
    const lightest = groups.reduce((min, group) => (group.bytes < min.bytes ? group : min));
    // `--table=` and `--exclude-table-data=` around the same pattern.
    const cost = 2 * exactTablePattern(table).length + 34;
    const target = !lightest.rest && listedChars + cost > maxListedChars ? groups[0]! : lightest;
    if (!target.rest) listedChars += cost;
    target.tables.push({ schema: table.schema, name: table.name });
    target.bytes += table.bytes;
  }
  return groups.filter((group) => group.rest || group.tables.length > 0);
}

/** The tables every listed (non-rest) part holds: the rest part's `--exclude-table-data`. */
export function listedTables(groups: readonly DumpGroup[]): TableRef[] {
  return groups.filter((group) => !group.rest).flatMap((group) => group.tables);
}

/** What the mode is chosen from. */
export interface DumpModeInput {
  /** pg_database_size at the snapshot. */
  databaseSizeBytes: number;
  /** The task's vCPU (os.availableParallelism()). */
  vcpu: number;
  /** A backup of chosen tables is always one stream. */
  scope: 'full' | 'tables';
  /** The config's `dumpJobs`: 1 forces one stream, N > 1 forces N data parts. */
  dumpJobs?: number;
}

/** The chosen mode: `single` (one `pg_dump -Fc` object, as always) or `streams` with `dataParts` parts. */
export interface DumpMode {
  mode: 'single' | 'streams';
  dataParts: number;
  /** Why, for the log. */
  reason: string;
}

/**
 * The rule (docs/backups.md "Parallel dumps"): a backup of chosen tables is one stream; a
 * configured `dumpJobs` decides (1: one stream; N: N data parts, at most MAX_DUMP_JOBS);
 * otherwise a database under STREAMS_FROM_BYTES, or a task with one vCPU, is one stream, and a
 * bigger one is split into one data part per vCPU (at most AUTO_MAX_DUMP_JOBS).
 */
export function chooseDumpMode(input: DumpModeInput): DumpMode {
  if (input.scope === 'tables') return { mode: 'single', dataParts: 1, reason: 'a backup of chosen tables is one stream' };
  if (input.dumpJobs !== undefined) {
    const jobs = Math.min(MAX_DUMP_JOBS, Math.max(1, Math.floor(input.dumpJobs)));
    return jobs > 1 ? { mode: 'streams', dataParts: jobs, reason: `dumpJobs is ${jobs} in the config` } : { mode: 'single', dataParts: 1, reason: 'dumpJobs is 1 in the config' };
  }
  const vcpu = Math.max(1, Math.floor(input.vcpu));
  if (input.databaseSizeBytes < STREAMS_FROM_BYTES) return { mode: 'single', dataParts: 1, reason: `the database is under ${STREAMS_FROM_BYTES / 1024 ** 3} GiB` };
  if (vcpu < 2) return { mode: 'single', dataParts: 1, reason: 'the task has one vCPU' };
  const jobs = Math.min(vcpu, AUTO_MAX_DUMP_JOBS);
  return { mode: 'streams', dataParts: jobs, reason: `the database is ${Math.round(input.databaseSizeBytes / 1024 ** 3)} GiB and the task has ${vcpu} vCPU` };
}

/**
 * The sections of a streams backup, in restore order; then `schema`, every definition with
 * its dependencies (`pg_dump --schema-only`), which a restore does not read: restore-table
 * --mode recreate does (a post-data part's entries do not say which table they belong to).
 */
export type DumpSection = 'pre-data' | 'data' | 'post-data' | 'schema';

/**
 * The storage key of one part, in the backup's folder `prefix`: `pre-data.dump`,
 * `data-01.dump` … (the rest part is `data-01`), `post-data.dump`, `schema.dump`; `.zst`
 * after each for zstd.
 */
export function dumpPartKey(prefix: string, section: DumpSection, dataIndex: number, compression: 'gzip' | 'zstd'): string {
  const name = section === 'data' ? `data-${String(dataIndex + 1).padStart(2, '0')}` : section;
  return `${prefix}${name}.dump${compression === 'zstd' ? '.zst' : ''}`;
}
