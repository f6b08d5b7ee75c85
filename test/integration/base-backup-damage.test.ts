/**
 * A damaged base backup never looks good (issue 14, point 6). Real base backups of a real
 * PostgreSQL archiving through the real endpoint, then damaged in the repository folder the
 * way a disk or a person does it — truncated, or one byte flipped — and every reader of
 * them: `pitr` refuses with a checksum error naming the backup and the object (not a write
 * EPIPE), `validate` reads a base backup and fails on damage, `catalog rebuild` reports it;
 * each marks the backup FAILED with one alert, and `status` no longer counts it.
 */
import { chmod, mkdtemp, open, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareEmptyDataDir, readBaseBackup, socketDirFor, startAndAwaitPromotion, unpackBaseBackup, writeRecoveryConfig } from '../../shared/adapters/postgres/recovery';
import { rebuildCommand } from '../../shared/cli/commands/catalog';
import { validateCommand } from '../../shared/cli/commands/validate';
import type { BackupEntry } from '../../shared/domain/backup';
import { LOCAL_TABLE } from '../../shared/local/context';
import { writeInstance } from '../../shared/local/home';
import { planRecovery, runPitr } from '../../shared/usecases/pitr';
import { rebuildCatalog } from '../../shared/usecases/rebuild-catalog';
import { readStatus } from '../../shared/usecases/status';
import { runBaseReadCheck } from '../../shared/usecases/validate/base-read';
import { output, run } from '../support/cli-output';
import { startWalStack, WAL_DATABASE, type WalStack } from '../support/wal-stack';

let stack: WalStack;
let scratch: string;
const savedEnv = { home: process.env.STRONGBOX_HOME, config: process.env.STRONGBOX_CONFIG };

/** A base backup, VERIFIED, with the WAL after it archived (so that a recovery can plan from it). */
async function takeBase(): Promise<BackupEntry> {
  await stack.pg.cluster.psql('INSERT INTO payload SELECT g, md5(g::text) FROM generate_series(1, 2000) g;');
  const entry = await stack.baseBackup();
  expect(entry).toMatchObject({ kind: 'base', state: 'VERIFIED', compression: 'zstd' });
  await stack.switchAndWait();
  return entry;
}

function fileOf(entry: BackupEntry): string {
  return join(stack.paths.repository, ...entry.key.split('/'));
}

async function truncateStored(entry: BackupEntry): Promise<void> {
  const { size } = await stat(fileOf(entry));
  await truncate(fileOf(entry), Math.floor(size / 2));
}

async function flipStoredByte(entry: BackupEntry): Promise<void> {
  const handle = await open(fileOf(entry), 'r+');
  try {
    const { size } = await handle.stat();
    const at = Math.floor(size / 2);
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, at);
    byte[0] = byte[0]! ^ 0xff;
    await handle.write(byte, 0, 1, at);
  } finally {
    await handle.close();
  }
}

/** `strongbox pitr --latest` into a new folder, without starting the server. */
async function recoverLatest(pgdata: string) {
  return runPitr(
    { catalog: stack.catalog, walCatalog: stack.walCatalog, storage: stack.storage, alerts: stack.alerts, log: stack.log, clock: () => new Date(), server: { prepareEmptyDataDir, unpackBaseBackup, writeRecoveryConfig, socketDirFor, startAndAwaitPromotion } },
    { database: WAL_DATABASE, target: { type: 'latest' }, exclusive: false, pgdata, restoreCommand: stack.host.restoreCommand, archiveCommand: stack.host.archiveCommand, archive: false, start: false, port: 1, timeoutMs: 60_000 },
  );
}

async function pitrBaseIds(): Promise<string[]> {
  const report = await readStatus(stack.context, { databases: [WAL_DATABASE], now: new Date() });
  return report.databases[0]!.pitr.baseBackups.map((base) => base.backupId);
}

async function expectDamaged(entry: BackupEntry, alertsBefore: number): Promise<void> {
  const after = await stack.catalog.get(entry.id);
  expect(after).toMatchObject({ state: 'FAILED', errorCode: 'CHECKSUM_MISMATCH' });
  expect(after?.reason).toContain(entry.id);
  expect(after?.reason).toContain(entry.key);
  expect(stack.alerts.published.slice(alertsBefore)).toEqual([expect.objectContaining({ type: 'CHECKSUM_MISMATCH', severity: 'SEV2', backupId: entry.id, database: WAL_DATABASE, code: 'CHECKSUM_MISMATCH' })]);
  expect(await pitrBaseIds()).not.toContain(entry.id);
}

beforeAll(async () => {
  stack = await startWalStack();
  scratch = await mkdtemp(join(tmpdir(), 'sbx-damage-'));
  // PostgreSQL's OS user must reach the recovery folders under it.
  await chmod(scratch, 0o755);
  await stack.pg.cluster.psql('CREATE TABLE payload (id int, v text);');
  // The CLI's session finds this stack's catalog through the instance record, as beside `npm start`.
  writeInstance(stack.paths, { pid: process.pid, catalogEndpoint: stack.context.catalogEndpoint!, tableName: LOCAL_TABLE, startedAt: new Date().toISOString() });
  await writeFile(join(scratch, 'strongbox.config.json'), '{}');
  process.env.STRONGBOX_HOME = stack.paths.root;
  process.env.STRONGBOX_CONFIG = join(scratch, 'strongbox.config.json');
}, 120_000);

afterAll(async () => {
  process.env.STRONGBOX_HOME = savedEnv.home;
  process.env.STRONGBOX_CONFIG = savedEnv.config;
  if (savedEnv.home === undefined) delete process.env.STRONGBOX_HOME;
  if (savedEnv.config === undefined) delete process.env.STRONGBOX_CONFIG;
  await stack?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('a damaged base backup', () => {
  let good: BackupEntry;

  it('validate <id> reads a good base backup through SHA-256 and tar: exit 0, said to be a read check, nothing changed', async () => {
    good = await takeBase();
    const alertsBefore = stack.alerts.published.length;
    const out = output(true);

    expect(await run((o) => validateCommand(good.id, {}, o), out)).toBe(0);

    expect(JSON.parse(out.out.join(''))).toMatchObject({ backupId: good.id, kind: 'base', check: 'read', ok: true, key: good.key, bytes: good.bytes, markedFailed: false });
    expect(JSON.parse(out.out.join('')).entries).toBeGreaterThan(100);
    const text = output();
    expect(await run((o) => validateCommand(good.id, {}, o), text)).toBe(0);
    expect(text.out.join('')).toContain(`Validated base backup ${good.id}`);
    expect(text.out.join('')).toContain('no server was recovered from it');
    expect(await stack.catalog.get(good.id)).toMatchObject({ state: 'VERIFIED' });
    expect(stack.alerts.published.slice(alertsBefore)).toEqual([]);
  });

  it('one byte flipped: pitr refuses with a checksum error naming the backup and object (not EPIPE), marks it FAILED, alerts once; the next plan takes the older one', async () => {
    const flipped = await takeBase();
    await flipStoredByte(flipped);
    expect(await pitrBaseIds()).toContain(flipped.id);
    const alertsBefore = stack.alerts.published.length;
    const pgdata = join(scratch, 'flipped');

    const failure = await recoverLatest(pgdata).then(
      () => undefined,
      (error: unknown) => error as { code: string; message: string; hint: string },
    );

    expect(failure).toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    expect(failure!.message).toContain(`backup ${flipped.id} is damaged`);
    expect(failure!.message).toContain(flipped.key);
    expect(failure!.message).not.toMatch(/EPIPE|bug/);
    expect(failure!.hint).toContain('now FAILED');
    expect(await readdir(pgdata)).toEqual([]);
    await expectDamaged(flipped, alertsBefore);
    expect((await planRecovery(stack, WAL_DATABASE, { type: 'latest' })).plan.base.id).toBe(good.id);
  });

  it('truncated: validate <id> finds it short, marks it FAILED with one alert; the CLI then exits 1 naming the damage', async () => {
    const short = await takeBase();
    await truncateStored(short);
    const alertsBefore = stack.alerts.published.length;

    const report = await runBaseReadCheck({ ...stack.context, readBaseBackup }, short);

    expect(report).toMatchObject({ ok: false, code: 'CHECKSUM_MISMATCH', markedFailed: true, entries: null });
    expect(report.reason).toContain(`backup ${short.id} is damaged`);
    await expectDamaged(short, alertsBefore);
    const out = output();
    expect(await run((o) => validateCommand(short.id, {}, o), out)).toBe(1);
    expect(out.err.join('')).toContain(`backup ${short.id} is FAILED`);
    expect(out.err.join('')).toContain(short.key);
  });

  it('truncated: the CLI validate of a VERIFIED base backup exits 1, says it is damaged and now FAILED', async () => {
    const short = await takeBase();
    await truncateStored(short);
    const out = output();

    expect(await run((o) => validateCommand('latest', { type: 'base' }, o), out)).toBe(1);

    expect(out.out.join('')).toContain(`Validation FAILED: base backup ${short.id} of "${WAL_DATABASE}" is damaged and now FAILED`);
    expect(out.out.join('')).toContain(short.key);
    expect(await stack.catalog.get(short.id)).toMatchObject({ state: 'FAILED', errorCode: 'CHECKSUM_MISMATCH' });
  });

  it('truncated: pitr refuses with a checksum error naming it, marks it FAILED, alerts once', async () => {
    const short = await takeBase();
    await truncateStored(short);
    const alertsBefore = stack.alerts.published.length;

    await expect(recoverLatest(join(scratch, 'short'))).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH', message: expect.stringContaining(`backup ${short.id} is damaged: object ${short.key}`) });

    await expectDamaged(short, alertsBefore);
  });

  it('truncated: catalog rebuild reports it damaged (not verified), marks it FAILED, alerts once, exits 1', async () => {
    const short = await takeBase();
    await truncateStored(short);
    const alertsBefore = stack.alerts.published.length;

    const report = await rebuildCatalog({ ...stack.context, walCatalog: stack.walCatalog }, { verify: true });

    expect(report.damaged).toEqual([{ backupId: short.id, reason: expect.stringContaining(`object ${short.key} holds`) }]);
    await expectDamaged(short, alertsBefore);
    expect(await stack.catalog.get(good.id)).toMatchObject({ state: 'VERIFIED' });
    // Known damage is not news: a second rebuild lists nothing new, and the CLI still exits 1 (failed backups).
    const out = output();
    expect(await run((o) => rebuildCommand({ verify: true }, o), out)).toBe(1);
    expect(out.out.join('')).not.toContain('DAMAGED');
  });
});
