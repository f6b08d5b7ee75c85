import { assertDatabaseName } from '../../domain/keys';
import { assertSegmentSize, DEFAULT_SEGMENT_SIZE, parseWalName, type WalFileKind } from '../../domain/wal/names';
import type { WalRecord } from '../../domain/wal/record';

/**
 * Item layout on the catalog table (schema.ts). No WAL item carries `database` or `state`,
 * so none enters the byDatabase and byState indexes (an index holds only items with both
 * of its key attributes); the timeline summaries, archive status, retention mark, restore
 * points and ranges carry `entity` = `WALVIEW#<shard>` and `gsiSort`: they are the WAL view
 * in the byEntity index (dynamo-wal-view.ts), never listed as backups (`entity` = BACKUP).
 * Database names cannot contain `#`, so partitions never collide.
 *
 * | pk                      | sk            | item                                   |
 * |-------------------------|---------------|----------------------------------------|
 * | `WAL#<db>#<TTTTTTTT>`   | file name     | segment and `.partial` records         |
 * | `WAL#<db>#HISTORY`      | file name     | `.history` records                     |
 * | `WAL#<db>#BACKUP`       | file name     | `.backup` label records                |
 * | `WALMETA#<db>`          | `TL#<TTTTTTTT>` | highest file name seen on a timeline |
 * | `WALMETA#<db>`          | `STATUS`      | the archiver's last measured status    |
 * | `WALMETA#<db>`          | `RETENTION`   | a WAL deletion retention has not finished |
 * | `WALMETA#<db>`          | `RECONCILE#<TTTTTTTT>` | where WAL reconciliation resumes on a timeline |
 * | `WALRP#<db>`            | point name    | named restore points                   |
 * | `WALRANGE#<db>#<TTTTTTTT>` | first segment's name tail | a run of archived segments (dynamo-wal-ranges.ts) |
 */

/** A catalog item as the document client reads and writes it. */
export type Item = Record<string, unknown>;

/** The smallest segment size accepts every segment name of every cluster (its low part is the widest). */
export const ANY_SEGMENT_SIZE = 1 << 20;
/** A segment's 24-hex name. */
export const SEGMENT_NAME = /^[0-9A-F]{24}$/;

export function hex8(timeline: number): string {
  return timeline.toString(16).toUpperCase().padStart(8, '0');
}

/** The partition of a database's WAL files of one group: a timeline's segments, HISTORY or BACKUP. */
export function walPk(database: string, group: string): string {
  assertDatabaseName(database);
  return `WAL#${database}#${group}`;
}

export function walKey(database: string, name: string): { pk: string; sk: string; kind: WalFileKind; timeline: number } {
  const parsed = parseWalName(name, ANY_SEGMENT_SIZE);
  const group = parsed.kind === 'history' ? 'HISTORY' : parsed.kind === 'backup' ? 'BACKUP' : hex8(parsed.timeline);
  return { pk: walPk(database, group), sk: name, kind: parsed.kind, timeline: parsed.timeline };
}

export function metaPk(database: string): string {
  assertDatabaseName(database);
  return `WALMETA#${database}`;
}

export function restorePointPk(database: string): string {
  assertDatabaseName(database);
  return `WALRP#${database}`;
}

export function defined(values: object): Item {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined));
}

/**
 * A segment record's size is its cluster's segment size (the endpoint checked the header);
 * a record with another (never written by the endpoint) counts with the default size.
 */
export function segmentSizeOf(record: WalRecord): number {
  try {
    assertSegmentSize(record.size);
    return record.size;
  } catch {
    return DEFAULT_SEGMENT_SIZE;
  }
}
