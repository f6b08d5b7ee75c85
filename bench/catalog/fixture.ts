/**
 * The catalog of `npm run bench:catalog`: one busy database whose WAL archive holds
 * `segments` segments over 7 days (three gaps, a promotion to timeline 2 at 60 %, a VERIFIED
 * base backup and a logical backup each day, a history file, the archive status), beside
 * 199 small databases (8 backups and 20 indexed segments each) — 200 in the table.
 *
 * The busy database's segment items are written directly in bulk (BatchWrite, 16 in flight)
 * with exactly the attributes indexing writes (record + indexedAt + keys); its ranges are
 * those of the same segments, added through the catalog's own `addRanges`, as `catalog
 * rebuild` adds them; its timeline summaries hold the highest name of each timeline, as
 * indexing leaves them (with the WAL view's attributes, as indexing writes them).
 * Everything else goes through the catalog adapters; the view is then marked complete.
 */
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Catalog } from '../../shared/ports/catalog';
import type { WalCatalog } from '../../shared/ports/wal-catalog';
import type { Storage } from '../../shared/ports/storage';
import type { BackupEntry } from '../../shared/domain/backup';
import { formatHistory } from '../../shared/domain/wal/history';
import { walObjectKey } from '../../shared/domain/wal/keys';
import { formatLsn, historyName, segmentName, segmentStartLsn } from '../../shared/domain/wal/names';
import { rangesOfSegments } from '../../shared/domain/wal/ranges';
import { WAL_RECORD_FORMAT, type WalRecord } from '../../shared/domain/wal/record';
import { viewAttributes } from '../../shared/adapters/catalog/wal-view-keys';

export const BUSY = 'busy';
export const SEGMENT_SIZE = 16 * 1024 * 1024;
const DAY = 86_400_000;
const SHA = 'a'.repeat(64);
const SYSTEM_ID = '7311234567890123456';

/** The shape of the busy archive for `segments` segments, ending at `end`. Pure. */
export class Shape {
  readonly start: number;
  readonly switchAt: number;
  readonly holes: Array<[number, number]>;
  constructor(
    readonly segments: number,
    readonly end: number,
  ) {
    this.start = end - 7 * DAY;
    this.switchAt = Math.round(segments * 0.6);
    this.holes = [
      [Math.round(segments * 0.1), Math.round(segments * 0.1) + 9],
      [Math.round(segments * 0.4), Math.round(segments * 0.4)],
      [Math.round(segments * 0.9), Math.round(segments * 0.9) + 2],
    ];
  }
  at(segno: number): string {
    return new Date(this.start + (segno * 7 * DAY) / this.segments).toISOString();
  }
  timelineOf(segno: number): number {
    return segno < this.switchAt ? 1 : 2;
  }
  missing(segno: number): boolean {
    return this.holes.some(([from, to]) => segno >= from && segno <= to);
  }
  /** The first segment of day `day` (0..6): where that day's base backup starts. */
  baseAt(day: number): number {
    return Math.round((day * this.segments) / 7) + 5;
  }
  /** "now" for the questions: 10 s after the last segment. */
  get now(): Date {
    return new Date(this.end + 10_000);
  }
  history(): string {
    return formatHistory([{ parentTimeline: 1, switchLsn: segmentStartLsn(BigInt(this.switchAt)) + 0x100n, reason: 'promoted' }]);
  }
}

function segmentItem(shape: Shape, segno: number): Record<string, unknown> {
  const timeline = shape.timelineOf(segno);
  const name = segmentName(timeline, BigInt(segno));
  const at = shape.at(segno);
  const record: WalRecord = {
    format: WAL_RECORD_FORMAT, database: BUSY, name, kind: 'segment', timeline, segno: String(segno),
    startLsn: formatLsn(segmentStartLsn(BigInt(segno))), endLsn: formatLsn(segmentStartLsn(BigInt(segno + 1))),
    objectKey: walObjectKey(BUSY, name, 'zstd'), compression: 'zstd', size: SEGMENT_SIZE, sha256: SHA, storedSize: 4_000_000, storedSha256: SHA, systemId: SYSTEM_ID, archivedAt: at,
  };
  return { ...record, indexedAt: at, pk: `WAL#${BUSY}#${timeline.toString(16).toUpperCase().padStart(8, '0')}`, sk: name };
}

function baseBackup(database: string, id: string, segno: number, timeline: number, at: (segno: number) => string): BackupEntry {
  return {
    id, database, kind: 'base', tier: 'daily', scope: 'full', state: 'VERIFIED',
    key: `base/daily/${database}/${id}/dump.zst`, manifestKey: `base/daily/${database}/${id}/manifest.json`, compression: 'zstd',
    startedAt: at(segno - 1), finishedAt: at(segno + 1), heartbeatAt: at(segno + 1),
    base: {
      startLsn: formatLsn(segmentStartLsn(BigInt(segno)) + 0x28n), stopLsn: formatLsn(segmentStartLsn(BigInt(segno)) + 0x1000n),
      timeline, stopTimeline: timeline, systemId: SYSTEM_ID, pgVersion: 15,
      walSegments: { first: segmentName(timeline, BigInt(segno)), last: segmentName(timeline, BigInt(segno)) }, label: '', walIncluded: true,
    },
  } as BackupEntry;
}

function logicalBackup(database: string, id: string, startedAt: string): BackupEntry {
  return { id, database, kind: 'logical', tier: 'daily', scope: 'full', state: 'VERIFIED', key: `logical/daily/${database}/${id}/dump`, manifestKey: `logical/daily/${database}/${id}/manifest.json`, compression: 'gzip', startedAt, finishedAt: startedAt, heartbeatAt: startedAt } as BackupEntry;
}

async function batchWrite(client: DynamoDBDocumentClient, table: string, items: Array<Record<string, unknown>>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < items.length) {
      const start = next;
      next += 25;
      let requests = items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }));
      while (requests.length > 0) requests = ((await client.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }))).UnprocessedItems?.[table] ?? []) as typeof requests;
    }
  }));
}

const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

/** Loads the whole catalog into `table` and the history file into `storage`. */
export async function loadCatalog(deps: { documents: DynamoDBDocumentClient; table: string; catalog: Catalog; walCatalog: WalCatalog; storage: Storage }, shape: Shape, progress: (line: string) => void): Promise<void> {
  const chunk = 50_000;
  for (let from = 0; from < shape.segments; from += chunk) {
    const items: Array<Record<string, unknown>> = [];
    for (let segno = from; segno < Math.min(shape.segments, from + chunk); segno += 1) if (!shape.missing(segno)) items.push(segmentItem(shape, segno));
    await batchWrite(deps.documents, deps.table, items);
    progress(`  ${Math.min(shape.segments, from + chunk).toLocaleString('en')} of ${shape.segments.toLocaleString('en')} segments written`);
  }
  for (const timeline of [1, 2]) {
    const present = function* (): Generator<{ name: string; archivedAt: string }> {
      const [low, high] = timeline === 1 ? [0, shape.switchAt] : [shape.switchAt, shape.segments];
      for (let segno = low; segno < high; segno += 1) if (!shape.missing(segno)) yield { name: segmentName(timeline, BigInt(segno)), archivedAt: shape.at(segno) };
    };
    await deps.walCatalog.addRanges(BUSY, rangesOfSegments(present(), SEGMENT_SIZE), SEGMENT_SIZE);
    const last = timeline === 1 ? shape.switchAt - 1 : shape.segments - 1;
    const sk = `TL#0000000${timeline}`;
    await batchWrite(deps.documents, deps.table, [{ pk: `WALMETA#${BUSY}`, sk, ...viewAttributes(BUSY, 'META', sk), timeline, highestName: segmentName(timeline, BigInt(last)), updatedAt: shape.at(last) }]);
  }
  const history = shape.history();
  const historyKey = walObjectKey(BUSY, historyName(2), 'none');
  await deps.storage.putBytes(historyKey, history);
  await deps.walCatalog.recordWal({ format: WAL_RECORD_FORMAT, database: BUSY, name: historyName(2), kind: 'history', timeline: 2, objectKey: historyKey, compression: 'none', size: history.length, sha256: SHA, storedSize: history.length, storedSha256: SHA, archivedAt: shape.at(shape.switchAt) }, shape.at(shape.switchAt));
  await deps.walCatalog.putArchiveStatus(BUSY, { measuredAt: shape.now.toISOString(), lastArchivedWal: segmentName(2, BigInt(shape.segments - 1)), lastArchivedAt: shape.at(shape.segments - 1), timeline: 2, timelineSource: 'checkpoint' });
  for (let day = 0; day < 7; day += 1) {
    const segno = shape.baseAt(day);
    await deps.catalog.create(baseBackup(BUSY, `${stamp(Date.parse(shape.at(segno)))}-b-busy`, segno, shape.timelineOf(segno), (s) => shape.at(s)));
    await deps.catalog.create(logicalBackup(BUSY, `${stamp(Date.parse(shape.at(segno)) + 3_600_000)}-l-busy`, new Date(Date.parse(shape.at(segno)) + 3_600_000).toISOString()));
  }
  progress('  busy database: ranges, timelines, history, archive status and 14 backups written');
  await loadSmallDatabases(deps, shape);
  // Every item was written with the WAL view's attributes: the view is complete.
  await deps.walCatalog.markViewComplete?.(shape.now.toISOString());
}

/** 199 other databases: 7 daily logical backups, one base backup and 20 segments indexed through the catalog each. */
async function loadSmallDatabases(deps: { catalog: Catalog; walCatalog: WalCatalog }, shape: Shape): Promise<void> {
  const at = (segno: number) => new Date(shape.start + segno * 60_000).toISOString();
  for (let index = 1; index < 200; index += 1) {
    const database = `db${String(index).padStart(3, '0')}`;
    const records: WalRecord[] = Array.from({ length: 20 }, (_, segno) => {
      const name = segmentName(1, BigInt(segno + 1));
      return { format: WAL_RECORD_FORMAT, database, name, kind: 'segment', timeline: 1, segno: String(segno + 1), objectKey: walObjectKey(database, name, 'zstd'), compression: 'zstd', size: SEGMENT_SIZE, sha256: SHA, storedSize: 100, storedSha256: SHA, systemId: SYSTEM_ID, archivedAt: at(segno + 1) };
    });
    await deps.walCatalog.recordWals(records, at(21));
    await deps.catalog.create(baseBackup(database, `${stamp(shape.start)}-b-${database}`, 2, 1, at));
    for (let day = 0; day < 7; day += 1) await deps.catalog.create(logicalBackup(database, `${stamp(shape.start + day * DAY)}-l-${database}`, new Date(shape.start + day * DAY).toISOString()));
  }
}
