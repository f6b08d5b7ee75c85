/**
 * The generated catalog of `npm run bench:retention`: three years of history for three
 * databases — WAL segments (100 000 in all by default, one timeline switch), weekly base
 * backups, daily logical backups with their weekly and monthly tiers, and the 15-minute
 * restore points of the last three days — loaded into a real dynalite with the item
 * layout of the catalog adapters.
 */
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Catalog } from '../../shared/ports/catalog';
import type { WalCatalog } from '../../shared/ports/wal-catalog';
import type { Storage } from '../../shared/ports/storage';
import type { BackupEntry, Tier } from '../../shared/domain/backup';
import { walObjectKey } from '../../shared/domain/wal/keys';
import { formatHistory } from '../../shared/domain/wal/history';
import { formatLsn, historyName, segmentName, segmentStartLsn } from '../../shared/domain/wal/names';
import { WAL_RECORD_FORMAT } from '../../shared/domain/wal/record';

const DAY = 86_400_000;
const SHA = 'a'.repeat(64);

/** What was generated, for the report. */
export interface FixtureSummary {
  segments: number;
  logical: number;
  base: number;
  restorePoints: number;
  databases: string[];
}

interface Plan {
  database: string;
  segments: number;
  /** Segment number where timeline 2 begins (undefined: one timeline). */
  switchAt?: number;
}

function tierOf(day: Date): Tier {
  if (day.getUTCDate() === 1) return 'monthly';
  return day.getUTCDay() === 0 ? 'weekly' : 'daily';
}

/** Runs `tasks` with at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await task(items[next++]!);
  }));
}

async function batchWrite(client: DynamoDBDocumentClient, table: string, items: Array<Record<string, unknown>>): Promise<void> {
  const batches: Array<Array<Record<string, unknown>>> = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  await pool(batches, 16, async (batch) => {
    let requests = batch.map((item) => ({ PutRequest: { Item: item } }));
    while (requests.length > 0) {
      const out = await client.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
      requests = (out.UnprocessedItems?.[table] ?? []) as typeof requests;
    }
  });
}

/**
 * Loads the generated history ending at `now` into `table` (catalog and WAL catalog
 * items) and the one history file into `storage`. `segments` is the total over the three
 * databases.
 */
export async function loadFixture(options: { client: DynamoDBDocumentClient; table: string; catalog: Catalog; walCatalog: WalCatalog; storage: Storage; now: Date; segments: number; progress: (line: string) => void }): Promise<FixtureSummary> {
  const { now, progress } = options;
  const start = now.getTime() - 3 * 365 * DAY;
  const plans: Plan[] = [
    { database: 'app', segments: Math.round(options.segments * 0.4), switchAt: Math.round(options.segments * 0.3) },
    { database: 'billing', segments: Math.round(options.segments * 0.35) },
    { database: 'crm', segments: options.segments - Math.round(options.segments * 0.4) - Math.round(options.segments * 0.35) },
  ];
  const summary: FixtureSummary = { segments: 0, logical: 0, base: 0, restorePoints: 0, databases: plans.map((p) => p.database) };
  for (const plan of plans) {
    const interval = (now.getTime() - 60_000 - start) / plan.segments;
    const at = (s: number) => new Date(start + s * interval);
    const timelineOf = (s: number) => (plan.switchAt !== undefined && s >= plan.switchAt ? 2 : 1);
    const segmentAt = (time: number) => Math.max(1, Math.min(plan.segments - 2, Math.floor((time - start) / interval)));
    // WAL segment records and timeline summaries.
    const items: Array<Record<string, unknown>> = [];
    for (let s = 1; s <= plan.segments; s += 1) {
      const timeline = timelineOf(s);
      const name = segmentName(timeline, BigInt(s));
      const archivedAt = at(s).toISOString();
      items.push({
        format: WAL_RECORD_FORMAT, database: plan.database, name, kind: 'segment', timeline, segno: String(s),
        startLsn: formatLsn(segmentStartLsn(BigInt(s))), endLsn: formatLsn(segmentStartLsn(BigInt(s + 1))),
        objectKey: walObjectKey(plan.database, name, 'zstd'), compression: 'zstd', size: 16 * 1024 * 1024, sha256: SHA,
        storedSize: 4 * 1024 * 1024, storedSha256: SHA, systemId: '7311234567890123456', archivedAt, indexedAt: archivedAt,
        pk: `WAL#${plan.database}#${timeline.toString(16).toUpperCase().padStart(8, '0')}`, sk: name,
      });
    }
    const last = (timeline: number) => items.filter((item) => item.timeline === timeline).at(-1)!;
    for (const timeline of plan.switchAt !== undefined ? [1, 2] : [1]) {
      const highest = last(timeline);
      items.push({ pk: `WALMETA#${plan.database}`, sk: `TL#${timeline.toString(16).toUpperCase().padStart(8, '0')}`, timeline, highestName: highest.name, updatedAt: highest.indexedAt });
    }
    await batchWrite(options.client, options.table, items);
    summary.segments += plan.segments;
    if (plan.switchAt !== undefined) {
      const name = historyName(2);
      const text = formatHistory([{ parentTimeline: 1, switchLsn: segmentStartLsn(BigInt(plan.switchAt)), reason: 'no recovery target specified' }]);
      const objectKey = walObjectKey(plan.database, name, 'none');
      await options.storage.putBytes(objectKey, text);
      await options.walCatalog.recordWal({ format: WAL_RECORD_FORMAT, database: plan.database, name, kind: 'history', timeline: 2, objectKey, compression: 'none', size: text.length, sha256: SHA, storedSize: text.length, storedSha256: SHA, archivedAt: at(plan.switchAt).toISOString() }, at(plan.switchAt).toISOString());
    }
    progress(`  ${plan.database}: ${plan.segments} WAL segments loaded`);
    // Backups: a logical one every day at 03:00, a base backup every Sunday at 01:00.
    const entries: BackupEntry[] = [];
    for (let day = Math.ceil(start / DAY) * DAY; day < now.getTime() - DAY / 2; day += DAY) {
      const date = new Date(day);
      const stamp = date.toISOString().slice(0, 10).replaceAll('-', '');
      const tier = tierOf(date);
      const logicalAt = new Date(day + 3 * 3_600_000).toISOString();
      const lid = `${stamp}T030000Z-l-${plan.database}`;
      entries.push({ id: lid, database: plan.database, kind: 'logical', tier, scope: 'full', state: 'VERIFIED', key: `logical/${tier}/${plan.database}/${lid}/dump`, manifestKey: `logical/${tier}/${plan.database}/${lid}/manifest.json`, globalsKey: `logical/${tier}/${plan.database}/${lid}/globals.sql`, compression: 'gzip', startedAt: logicalAt, finishedAt: logicalAt, heartbeatAt: logicalAt, bytes: 50_000_000 });
      if (date.getUTCDay() !== 0) continue;
      const baseStart = segmentAt(day + 3_600_000);
      const timeline = timelineOf(baseStart);
      const bid = `${stamp}T010000Z-b-${plan.database}`;
      const startedAt = new Date(day + 3_600_000).toISOString();
      const finishedAt = new Date(day + 2 * 3_600_000).toISOString();
      entries.push({
        id: bid, database: plan.database, kind: 'base', tier, scope: 'full', state: 'VERIFIED', key: `base/${tier}/${plan.database}/${bid}/dump.zst`, manifestKey: `base/${tier}/${plan.database}/${bid}/manifest.json`, compression: 'zstd', startedAt, finishedAt, heartbeatAt: finishedAt,
        base: { startLsn: formatLsn(segmentStartLsn(BigInt(baseStart)) + 40n), stopLsn: formatLsn(segmentStartLsn(BigInt(baseStart + 1)) + 100n), timeline, stopTimeline: timelineOf(baseStart + 1), systemId: '7311234567890123456', pgVersion: 15, walSegments: { first: segmentName(timeline, BigInt(baseStart)), last: segmentName(timelineOf(baseStart + 1), BigInt(baseStart + 1)) }, label: '', walIncluded: baseStart % 4 !== 0 },
      });
    }
    await pool(entries, 16, async (entry) => void (await options.catalog.create(entry)));
    summary.logical += entries.filter((entry) => entry.kind === 'logical').length;
    summary.base += entries.filter((entry) => entry.kind === 'base').length;
    // Restore points of the 15-minute job, the last 72 hours.
    const points = Array.from({ length: 72 * 4 }, (_, i) => new Date(now.getTime() - (i + 1) * 15 * 60_000));
    await pool(points, 16, async (point) => {
      const s = segmentAt(point.getTime());
      await options.walCatalog.recordRestorePoint(plan.database, { name: `sb-${point.toISOString().slice(0, 16)}`, lsn: formatLsn(segmentStartLsn(BigInt(s)) + 512n), timeline: timelineOf(s), createdAt: point.toISOString() });
    });
    summary.restorePoints += points.length;
    progress(`  ${plan.database}: ${entries.length} backups and ${points.length} restore points loaded`);
  }
  return summary;
}
