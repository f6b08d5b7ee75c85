/**
 * `sls invoke -f pitr --data '{…,"dryRun":true}'`: the plan from the catalog alone, on a real
 * DynamoDB-compatible catalog (dynalite) and a real repository folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDynamoClient } from '../../shared/adapters/catalog/client';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import type { BackupEntry } from '../../shared/domain/backup';
import { walRecordKey } from '../../shared/domain/wal/keys';
import { segmentName } from '../../shared/domain/wal/names';
import { LOCAL_TABLE, localCatalog, localWalCatalog } from '../../shared/local/context';
import { ensureCatalogTable, startDynalite } from '../../shared/local/dynalite-server';
import { makePitrHandler } from '../../functions/pitr';
import { segmentRecord } from '../support/archiving-cluster';
import { captureLog } from '../support/stack';

let stopDynalite: () => Promise<void>;
let dir: string;
let handler: ReturnType<typeof makePitrHandler>;

function baseEntry(): BackupEntry {
  return {
    id: '20261124T020000Z-b-abcdef',
    database: 'app',
    kind: 'base',
    tier: 'daily',
    scope: 'full',
    state: 'VERIFIED',
    key: 'base/daily/app/20261124T020000Z-b-abcdef/base.tar.zst',
    manifestKey: 'base/daily/app/20261124T020000Z-b-abcdef/manifest.json',
    compression: 'zstd',
    bytes: 1,
    sha256: 'b'.repeat(64),
    startedAt: '2026-11-24T02:00:00.000Z',
    finishedAt: '2026-11-24T02:01:00.000Z',
    heartbeatAt: '2026-11-24T02:01:00.000Z',
    base: {
      startLsn: '0/3000028',
      stopLsn: '0/3000100',
      timeline: 1,
      stopTimeline: 1,
      systemId: '7311234567890123456',
      pgVersion: 15,
      walSegments: { first: segmentName(1, 3n), last: segmentName(1, 3n) },
      label: 'START WAL LOCATION: 0/3000028',
      walIncluded: true,
    },
  };
}

beforeAll(async () => {
  const dynalite = await startDynalite();
  stopDynalite = dynalite.stop;
  await ensureCatalogTable(makeDynamoClient({ endpoint: dynalite.endpoint }), LOCAL_TABLE);
  dir = await mkdtemp(join(tmpdir(), 'sbx-fn-pitr-'));
  const storage = new FolderStorage(dir);
  const catalog = localCatalog(dynalite.endpoint);
  const walCatalog = localWalCatalog(dynalite.endpoint);
  await catalog.create(baseEntry());
  for (let segno = 3n; segno <= 9n; segno++) {
    const name = segmentName(1, segno);
    await walCatalog.recordWal(segmentRecord('app', name, `2026-11-24T02:${String(Number(segno) * 5).padStart(2, '0')}:00.000Z`), new Date().toISOString());
    if (segno !== 7n) await storage.putBytes(walRecordKey('app', name), '{}');
  }
  handler = makePitrHandler({ catalog, walCatalog, storage, log: captureLog() });
});

afterAll(async () => {
  await stopDynalite?.();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('pitr function (dry run)', () => {
  it('returns the plan for an LSN before the hole: base backup, WAL range, timelines', async () => {
    const plan = await handler({ database: 'app', lsn: '0/5000000', dryRun: true });

    expect(plan).toMatchObject({
      database: 'app',
      dryRun: true,
      baseBackup: { id: '20261124T020000Z-b-abcdef', startLsn: '0/3000028', stopLsn: '0/3000100' },
      wal: { first: segmentName(1, 3n), last: segmentName(1, 5n), count: 3 },
      timelines: [1],
    });
  });

  it('names the segment the catalog lists but storage lost', async () => {
    await expect(handler({ database: 'app', latest: true, dryRun: true })).rejects.toMatchObject({ code: 'WAL_GAP', message: expect.stringContaining(segmentName(1, 7n)) });
  });

  it.each([
    [{ database: 'app', time: '2026-11-24T02:30:00Z' }, /only plans/],
    [{ database: 'app', dryRun: true }, /no recovery target/],
    [{ database: '../etc', latest: true, dryRun: true }, /not allowed/],
    [{ database: 'app', latest: true, dryRun: true, surprise: 1 }, /surprise/],
    ['garbage', /payload is invalid/],
  ])('refuses %j with a hint', async (payload, message) => {
    await expect(handler(payload)).rejects.toThrow(message);
  });
});
