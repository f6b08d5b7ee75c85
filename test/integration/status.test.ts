/**
 * `strongbox status` on a real stack: a PostgreSQL cluster archiving its WAL (indexed into
 * dynalite, one segment left out on purpose: a gap), real pg_dump backups and a real
 * pg_basebackup in a repository folder, a real 15-minute WAL checkpoint, then the status
 * command itself (in-process, sharing the catalog as beside `npm start`) in JSON, text
 * and HTML.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusCommand, statusDatabases } from '../../shared/cli/commands/status';
import type { StrongboxConfig } from '../../shared/config';
import type { Output } from '../../shared/cli/output';
import type { Catalog } from '../../shared/ports/catalog';
import { makeDynamoClient } from '../../shared/adapters/catalog/client';
import type { WalCatalog } from '../../shared/ports/wal-catalog';
import { pgBaseBackupTools } from '../../shared/adapters/postgres/basebackup';
import { pgWalServer } from '../../shared/adapters/postgres/wal-server';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import type { BackupEntry } from '../../shared/domain/backup';
import type { DatabaseStatus } from '../../shared/domain/status';
import { parseWalName, segmentName } from '../../shared/domain/wal/names';
import { LOCAL_TABLE, localCatalog, localWalCatalog } from '../../shared/local/context';
import { ensureCatalogTable, startDynalite } from '../../shared/local/dynalite-server';
import { resolveHome, writeInstance, type HomePaths } from '../../shared/local/home';
import { deliverObjectEvents } from '../../shared/local/object-events';
import { pgDumpTools } from '../../shared/runtime/dump-tools';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { runBaseBackup } from '../../shared/usecases/base-backup';
import type { StatusReport } from '../../shared/usecases/status';
import { runWalCheckpoint } from '../../shared/usecases/wal-checkpoint';
import { startArchivingCluster, startIndexer, type ArchivingCluster } from '../support/archiving-cluster';
import { captureLog } from '../support/stack';

let cluster: ArchivingCluster;
let dir: string;
let paths: HomePaths;
let catalog: Catalog;
let walCatalog: WalCatalog;
let stopCatalog: () => Promise<void>;
const savedEnv = { home: process.env.STRONGBOX_HOME, config: process.env.STRONGBOX_CONFIG };
const log = captureLog();
const alerts = new ConsoleAlertPublisher(() => undefined);

let daily: BackupEntry;
let manual: BackupEntry;
let base: BackupEntry;
/** The segment archived by PostgreSQL but never indexed: the hole status must show. */
let missing: string;
/** The segments archived (and indexed) after the hole. */
const after: string[] = [];

function capture(json: boolean): Output & { out: string; err: string } {
  const output = { json, interactive: false, out: '', err: '', stdout: (text: string) => void (output.out += text), stderr: (text: string) => void (output.err += text) };
  return output;
}

async function switchWal(index: number): Promise<string> {
  const name = (await cluster.cluster.psql(`INSERT INTO status_t0 SELECT g FROM generate_series(1, ${index * 100 + 1}) g; SELECT pg_walfile_name(pg_current_wal_lsn()); SELECT pg_catalog.pg_switch_wal();`)).trim().split('\n')[0]!;
  await cluster.waitArchived(name);
  return name;
}

beforeAll(async () => {
  cluster = await startArchivingCluster({ mode: 'copy' });
  dir = await mkdtemp(join(tmpdir(), 'sbx-status-'));
  paths = resolveHome({ STRONGBOX_HOME: join(dir, 'home') }, dir);
  const dynalite = await startDynalite({});
  stopCatalog = dynalite.stop;
  await ensureCatalogTable(makeDynamoClient({ endpoint: dynalite.endpoint }), LOCAL_TABLE);
  catalog = localCatalog(dynalite.endpoint);
  walCatalog = localWalCatalog(dynalite.endpoint);
  const storage = new FolderStorage(paths.repository);
  const clock = () => new Date();
  deliverObjectEvents({ storage, catalog, walCatalog, alerts, log, clock });
  // As beside `npm start`: the CLI's session finds this catalog through the instance record.
  writeInstance(paths, { pid: process.pid, catalogEndpoint: dynalite.endpoint, tableName: LOCAL_TABLE, startedAt: new Date().toISOString() });
  await writeFile(join(dir, 'strongbox.config.json'), '{}');
  process.env.STRONGBOX_HOME = paths.root;
  process.env.STRONGBOX_CONFIG = join(dir, 'strongbox.config.json');

  const dumpDeps = { storage, catalog, alerts, log, clock, tools: pgDumpTools, version: 'test', heartbeatMs: 200, staleAfterMs: 60_000 };
  const dump = (tier: 'daily' | 'manual') => runLogicalBackup(dumpDeps, { database: 'app', connection: cluster.conn, tier, compression: 'gzip', includeRolePasswords: false, runner: 'test' });
  daily = await dump('daily');
  manual = await dump('manual');
  base = await runBaseBackup({ storage, catalog, alerts, log, clock, tools: pgBaseBackupTools, version: 'test', heartbeatMs: 1000 }, { database: 'app', connection: cluster.conn, tier: 'daily', compression: 'zstd', runner: 'test' });
  expect([daily.state, manual.state, base.state]).toEqual(['VERIFIED', 'VERIFIED', 'VERIFIED']);

  // The segment being written now will be archived but not indexed: a hole after the base backup.
  // (Written to first: at a segment boundary pg_walfile_name names the previous segment.)
  missing = (await cluster.cluster.psql('CREATE TABLE status_t0 (id int); SELECT pg_walfile_name(pg_current_wal_lsn());')).trim();
  const stopIndexer = startIndexer(cluster, walCatalog, 'app', new Set([missing]));
  try {
    expect(await switchWal(0)).toBe(missing);
    for (let index = 1; index <= 3; index += 1) after.push(await switchWal(index));
    // A restore drill's outcome, as `strongbox validate` records it.
    await catalog.update(daily.id, { lastValidation: { at: new Date().toISOString(), ok: true, seconds: 4.2 } });
    // The real 15-minute checkpoint: restore point, switch, measured lag, continuity.
    const checkpoint = await runWalCheckpoint({ walCatalog, catalog, server: pgWalServer, alerts, log, clock }, { database: 'app', connection: cluster.conn, waitMs: 20_000, pollMs: 100, indexGraceMs: 300 });
    expect(checkpoint.archived).toBe(true);
    after.push(checkpoint.switched.segment);
  } finally {
    await stopIndexer();
  }
}, 180_000);

afterAll(async () => {
  process.env.STRONGBOX_HOME = savedEnv.home;
  process.env.STRONGBOX_CONFIG = savedEnv.config;
  if (savedEnv.home === undefined) delete process.env.STRONGBOX_HOME;
  if (savedEnv.config === undefined) delete process.env.STRONGBOX_CONFIG;
  await Promise.all([cluster?.stop(), stopCatalog?.()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('strongbox status on a real stack', () => {
  let report: StatusReport;
  let app: DatabaseStatus;

  beforeAll(async () => {
    const out = capture(true);
    expect(await statusCommand({ database: 'app', html: join(dir, 'status.html') }, out)).toBe(0);
    report = JSON.parse(out.out) as StatusReport;
    app = report.databases[0]!;
  });

  it('gives the logical restore points: the moments of the VERIFIED dumps', () => {
    expect(report.databases.map((status) => status.database)).toEqual(['app']);
    expect(app.logical.points.map((point) => point.backupId)).toEqual([manual.id, daily.id]);
    expect(app.logical).toMatchObject({ from: daily.startedAt, to: manual.startedAt });
  });

  it('gives the PITR window from the base backup\'s end up to the hole, and the hole itself', () => {
    const beforeHole = segmentName(1, parseWalName(missing).segno! - 1n);
    expect(app.pitr).toMatchObject({ available: true, from: new Date(base.finishedAt!).toISOString(), timelines: [1] });
    expect(app.pitr.ranges).toEqual([expect.objectContaining({ baseBackupIds: [base.id], lastSegment: beforeHole })]);
    expect(app.pitr.gaps).toEqual([expect.objectContaining({ first: missing, last: missing, count: 1 })]);
    expect(Date.parse(app.pitr.gaps[0]!.before!)).toBeGreaterThanOrEqual(Date.parse(app.pitr.gaps[0]!.after!));
    expect(app.pitr.lastArchived?.name).toBe(after.at(-1));
    expect(app.pitr.baseBackups).toEqual([expect.objectContaining({ backupId: base.id, stopLsn: base.base!.stopLsn })]);
    expect(app.warnings.join('\n')).toMatch(/1 WAL segment\(s\) missing in 1 gap/);
  });

  it('gives the last backup of each tier, the last drill and its RTO, and the archive lag', () => {
    expect(app.tiers.map((tier) => [tier.kind, tier.tier, tier.backupId, tier.state])).toEqual([
      ['logical', 'daily', daily.id, 'VERIFIED'],
      ['logical', 'manual', manual.id, 'VERIFIED'],
      ['base', 'daily', base.id, 'VERIFIED'],
    ]);
    expect(app.tiers.every((tier) => tier.ageSeconds >= 0 && tier.ageSeconds < 600)).toBe(true);
    expect(app.lastValidation).toMatchObject({ backupId: daily.id, ok: true, rtoSeconds: 4.2 });
    expect(app.archive.measuredLagSeconds).toBeGreaterThanOrEqual(0);
    expect(app.archive.lastArchivedWal).toBe(after.at(-1));
    expect(app.archive.rpoNowSeconds).toBeLessThan(600);
    // The checkpoint saw the same hole.
    expect(app.archive.reportedGap).toEqual([{ first: missing, last: missing, count: 1 }]);
  });

  it('reads by keys only, a handful of requests', () => {
    expect(report.reads.requests).toBeLessThanOrEqual(6);
    expect(report.reads.items).toBeGreaterThan(0);
  });

  it('prints the same for people, and writes the page with the gap in red', async () => {
    const out = capture(false);
    expect(await statusCommand({ database: 'app' }, out)).toBe(0);
    expect(out.out).toMatch(/^Strongbox status at /);
    expect(out.out).toMatch(new RegExp(`WAL gaps\\s+${missing} \\(1 segment\\) between `));
    expect(out.out).toMatch(/point in time\s+any moment .* \(from base /);
    expect(out.out).toMatch(/last drill\s+passed .* RTO 4 s/);
    const page = await readFile(join(dir, 'status.html'), 'utf8');
    expect(page).toContain(`WAL gap: ${missing}..${missing}`);
    expect(page).toContain('<svg');
  });

  it('reports --database, else the configured databases, else says there is none', () => {
    const config = (names: string[]) => ({ databases: names.map((name) => ({ name })) }) as unknown as StrongboxConfig;
    const empty = resolveHome({ STRONGBOX_HOME: join(dir, 'empty-home') }, dir);
    expect(statusDatabases({ database: 'x' }, config(['a', 'b']), {}, empty)).toEqual(['x']);
    expect(statusDatabases({}, config(['a', 'b']), {}, empty)).toEqual(['a', 'b']);
    expect(statusDatabases({}, config([]), { DATABASE_URL: 'postgresql://u@127.0.0.1/shop' }, empty)).toEqual(['shop']);
    expect(() => statusDatabases({}, config([]), {}, empty)).toThrow(/no database to report on/);
  });

  it('refuses a page it cannot write, saying where', async () => {
    const out = capture(false);
    await expect(statusCommand({ database: 'app', html: join(dir, 'no-such-folder', 'status.html') }, out)).rejects.toMatchObject({ code: 'STORAGE_FAILED', message: expect.stringContaining('no-such-folder') });
  });
});
