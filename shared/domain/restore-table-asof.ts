/**
 * A table restore as of a moment (`strongbox restore-table --time T | --lsn L | --name N`):
 * the words of its dry run (the base backup, the WAL range and the space the scratch
 * cluster needs) and which rows its dump of the recovered database leaves out. Pure.
 */
import type { TableRef } from '../ports/postgres';
import type { BackupEntry } from './backup';
import { exactTablePattern, quoteIdent } from './table-pattern';
import type { PitrPlan } from './wal/pitr-plan';

/** Where the tables come from: a cluster recovered to `target` in the task, never the target. */
export interface AsOfSource {
  /** The moment as people read it (describeTarget). */
  target: string;
  /** The base backup the scratch cluster starts from. */
  baseBackup: string;
  /** The WAL recovery replays: first and last segment and how many. */
  wal: PitrPlan['wal'];
  /** The database inside the recovered cluster whose tables are read. */
  sourceDatabase: string;
}

/** Segments of WAL the scratch cluster holds at once, at most: recovery fetches one at a time and recycles them at restartpoints. */
export const WAL_HELD_SEGMENTS = 64;

/** The disk a scratch cluster needs, and how the figure was reached. */
export interface AsOfSpace {
  /** Bytes needed at least before the dump of the tables (which adds their size). */
  bytes: number;
  /** The base backup's stored size. */
  baseBackupBytes: number;
  /** True when the base backup is stored compressed: the cluster it unpacks to is larger than `baseBackupBytes`. */
  compressed: boolean;
  /** The WAL held at once during replay. */
  walBytes: number;
  note: string;
}

/**
 * What the scratch cluster takes on the task's disk: the unpacked base backup (its stored
 * size; more when compressed), the WAL held during replay (at most WAL_HELD_SEGMENTS
 * segments, fewer when the plan needs fewer) and then the dump of the selected tables.
 */
export function asOfSpace(base: Pick<BackupEntry, 'bytes' | 'compression'>, plan: Pick<PitrPlan, 'wal'>, segmentSize: number): AsOfSpace {
  const baseBackupBytes = base.bytes ?? 0;
  const compressed = base.compression !== 'none';
  const walBytes = Math.min(plan.wal.count, WAL_HELD_SEGMENTS) * segmentSize;
  const note =
    `the base backup unpacked (${compressed ? `more than its ${baseBackupBytes} stored bytes: it is compressed` : `${baseBackupBytes} bytes`}), ` +
    `up to ${walBytes} bytes of WAL during replay, then the dump of the selected tables (about their size in the database)`;
  return { bytes: baseBackupBytes + walBytes, baseBackupBytes, compressed, walBytes, note };
}

/** The dry run's steps of the recovery part, before the table restore's own steps. */
export function asOfSteps(source: AsOfSource, space: AsOfSpace): string[] {
  return [
    `recover a scratch cluster in a private temporary folder of the task (never on the target) from base backup ${source.baseBackup}, replaying WAL ${source.wal.first} .. ${source.wal.last} ` +
      `(${source.wal.count} segment${source.wal.count === 1 ? '' : 's'}) to ${source.target}; it listens on a Unix socket only and archives nothing; disk: at least ${space.bytes} bytes (${space.note})`,
    `match the pattern against the tables of database "${source.sourceDatabase}" in the recovered cluster and count their rows there`,
    `dump that database (pg_dump -Fc: every definition, the rows of the selected tables only) to a private temporary file, then stop the scratch cluster and remove it`,
  ];
}

/** Above this many characters of `--exclude-table-data` arguments, the dump holds every table's rows instead (argv is bounded). */
export const EXCLUSIONS_MAX_CHARS = 64 * 1024;

/** Which rows the dump of the recovered database leaves out. */
export interface DataExclusions {
  /** pg_dump `--exclude-table-data` patterns. */
  patterns: string[];
  /** Set when the patterns would be too long and every table's rows are dumped: says so. */
  warning?: string;
}

/**
 * `--exclude-table-data` patterns that leave out the rows of every table but `selected`: one
 * `schema.*` per schema with no selected table, one exact name per other table of a schema that
 * has some. When that exceeds EXCLUSIONS_MAX_CHARS, none (every row is dumped) with a warning.
 */
export function dataExclusions(all: readonly TableRef[], selected: readonly TableRef[]): DataExclusions {
  const chosen = new Set(selected.map(exactTablePattern));
  const schemasWithSelected = new Set(selected.map((t) => t.schema));
  const patterns: string[] = [];
  const wholeSchemas = new Set<string>();
  for (const table of all) {
    if (chosen.has(exactTablePattern(table))) continue;
    if (!schemasWithSelected.has(table.schema)) {
      if (!wholeSchemas.has(table.schema)) patterns.push(`${quoteIdent(table.schema)}.*`);
      wholeSchemas.add(table.schema);
      continue;
    }
    patterns.push(exactTablePattern(table));
  }
  const chars = patterns.reduce((sum, p) => sum + p.length + 24, 0);
  if (chars <= EXCLUSIONS_MAX_CHARS) return { patterns };
  return { patterns: [], warning: `the dump of the recovered database holds every table's rows: leaving out the ${patterns.length} others one by one would not fit a command line` };
}
