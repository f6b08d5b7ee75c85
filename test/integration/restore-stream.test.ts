/**
 * A single-job restore from S3 streams the dump into pg_restore (one transaction), with no
 * local copy: real PostgreSQL 15, real pg_dump / pg_restore / zstd, the real SDK against
 * s3rver on 127.0.0.1. A dump whose bytes are not the manifest's is refused at the end of the
 * stream, before pg_restore could read its end: nothing is committed.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pgRestoreTools } from '../../shared/adapters/postgres/restore-tools';
import type { Storage } from '../../shared/ports/storage';
import type { BackupEntry } from '../../shared/domain/backup';
import { parseManifest, type Manifest } from '../../shared/domain/manifest';
import { InterruptedError, StorageError, type StrongboxError } from '../../shared/errors';
import { pgRestoreDeps } from '../../shared/runtime/restore-tools';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { runRestore, type RestoreDeps, type RestoreRequest } from '../../shared/usecases/restore';
import type { RestoreTools } from '../../shared/ports/restore';
import { restoreStreamed, VerifyingGate } from '../../shared/usecases/restore/stream';
import { digestBytes } from '../../shared/domain/hashing-stream';
import { addRichObjects, databaseNames, fingerprint, sql, type Fingerprint } from '../support/restore';
import { boundStorage } from '../support/faults';
import { startStack, type Stack } from '../support/stack';

let stack: Stack;
let deps: RestoreDeps;
let tmp: string;
let original: Fingerprint;
const backups: Record<'gzip' | 'zstd', BackupEntry> = {} as Record<'gzip' | 'zstd', BackupEntry>;

beforeAll(async () => {
  stack = await startStack({ storage: 's3', rows: 300 });
  await addRichObjects(stack.conn);
  tmp = await mkdtemp(join(tmpdir(), 'sbx-restore-stream-'));
  deps = { ...stack.deps, ...pgRestoreDeps, tmpDir: tmp };
  original = await fingerprint(stack.conn);
  for (const compression of ['gzip', 'zstd'] as const) {
    backups[compression] = await runLogicalBackup(stack.deps, { database: 'app', connection: stack.conn, tier: 'manual', compression, includeRolePasswords: false, runner: 'test' });
  }
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  stack.log.lines.length = 0;
});

function restore(backup: BackupEntry, overrides: Partial<RestoreRequest> = {}, extra: Partial<RestoreDeps> = {}) {
  return runRestore({ ...deps, ...extra }, { backupId: backup.id, target: stack.conn, jobs: 1, dropFirst: false, force: false, ...overrides });
}

async function failure(promise: Promise<unknown>): Promise<StrongboxError> {
  try {
    await promise;
  } catch (error) {
    return error as StrongboxError;
  }
  throw new Error('expected a failure');
}

async function manifestOf(backup: BackupEntry): Promise<Manifest> {
  return parseManifest((await stack.storage.getBytes(backup.manifestKey)).toString(), backup.manifestKey);
}

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** The restore tools, recording what the temporary folder held while pg_restore read the stream. */
function watchingTools(seen: string[][]): RestoreTools {
  return {
    ...pgRestoreTools,
    async restoreStream(conn, input, options) {
      const restoring = pgRestoreTools.restoreStream!(conn, input, options);
      seen.push(await filesUnder(tmp));
      await restoring;
      seen.push(await filesUnder(tmp));
    },
  };
}

/** A storage whose reads of `key` come back with the byte at `fromEnd` bytes before the end flipped. */
function flippingNearEnd(storage: Storage, key: string, size: number, fromEnd: number): Storage {
  const target = size - fromEnd;
  const get = async (wanted: string): Promise<Readable> => {
      const body = await storage.get(wanted);
      if (wanted !== key) return body;
      let offset = 0;
      const flip = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          if (target >= offset && target < offset + chunk.length) {
            chunk = Buffer.from(chunk);
            chunk[target - offset] = chunk[target - offset]! ^ 0xff;
          }
          offset += chunk.length;
          done(null, chunk);
        },
      });
      return body.pipe(flip);
  };
  // A proxy: the driver's methods run on the driver itself (it has private fields).
  return new Proxy(storage, {
    get(target, property) {
      if (property === 'get') return get;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const userTables = async (database: string) => (await sql({ ...stack.conn, database }, "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"))[0]!.n;

describe('single-job restore streamed from S3', () => {
  it.each(['gzip', 'zstd'] as const)('a %s dump: restored byte for byte, no file in the temporary folder, no download phase', async (compression) => {
    await sql(stack.conn, 'DELETE FROM "Billing"."Invoices" WHERE id % 3 = 0');
    const seen: string[][] = [];

    const report = await restore(backups[compression], {}, { restoreTools: watchingTools(seen) });

    expect(report.steps.map((s) => s.name)).toEqual(['plan', 'cleanup', 'restore', 'verify', 'swap']);
    expect(seen).toEqual([[], []]);
    expect(await fingerprint(stack.conn)).toEqual(original);
    expect(stack.log.lines).toContainEqual(expect.objectContaining({ message: 'restore reads the dump', attributes: expect.objectContaining({ path: 'stream', compression }) }));
    expect(stack.log.lines).toContainEqual(expect.objectContaining({ message: 'restore dump verified', attributes: expect.objectContaining({ path: 'stream' }) }));
    await sql({ ...stack.conn, database: 'postgres' }, `DROP DATABASE "${report.keptAs}"`);
  });

  it('with 2 jobs the dump is downloaded (pg_restore -j needs a file)', async () => {
    const report = await restore(backups.gzip, { jobs: 2 });
    expect(report.steps.map((s) => s.name)).toEqual(['plan', 'cleanup', 'download', 'check', 'restore', 'verify', 'swap']);
    expect(await fingerprint(stack.conn)).toEqual(original);
    await sql({ ...stack.conn, database: 'postgres' }, `DROP DATABASE "${report.keptAs}"`);
  });

  it('bytes that are not the manifest\'s (a flipped byte near the end): CHECKSUM_MISMATCH, the target untouched, nothing left, the backup FAILED', async () => {
    // Prepare: a fresh backup to damage, and a target that differs from it.
    const backup = await runLogicalBackup(stack.deps, { database: 'app', connection: stack.conn, tier: 'manual', compression: 'gzip', includeRolePasswords: false, runner: 'test' });
    await sql(stack.conn, 'CREATE TABLE only_in_target (x int); INSERT INTO only_in_target VALUES (1)');
    const before = await fingerprint(stack.conn);
    const damaged = flippingNearEnd(stack.storage, backup.key, (await manifestOf(backup)).objects.dump.bytes, 3);

    // Act
    const error = await failure(restore(backup, {}, { storage: damaged }));

    // Assess
    expect(error.code).toBe('CHECKSUM_MISMATCH');
    expect(error.hint).toMatch(/"app" was not touched \(the scratch database "app_restoring_\d+" was dropped\)/);
    expect(await fingerprint(stack.conn)).toEqual(before);
    expect((await databaseNames(stack.conn)).filter((name) => name.includes('_restoring_'))).toEqual([]);
    expect(await filesUnder(tmp)).toEqual([]);
    expect(await stack.catalog.get(backup.id)).toMatchObject({ state: 'FAILED' });
    await sql(stack.conn, 'DROP TABLE only_in_target');
  });

  it('the read from storage failing midway: its own error, the target untouched, nothing left, the backup not blamed', async () => {
    // Prepare: reads of the dump give out after half its bytes (a connection reset).
    const backup = backups.gzip;
    const half = Math.floor((await manifestOf(backup)).objects.dump.bytes / 2);
    const before = await fingerprint(stack.conn);
    const failing = Object.assign(boundStorage(stack.storage), {
      async get(key: string): Promise<Readable> {
        const body = await stack.storage.get(key);
        if (key !== backup.key) return body;
        let seen = 0;
        const breaker = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            seen += chunk.length;
            if (seen > half) done(new StorageError('connection reset by peer', 'retry'));
            else done(null, chunk);
          },
        });
        return body.pipe(breaker);
      },
    });

    const error = await failure(restore(backup, {}, { storage: failing }));

    expect(error.code).toBe('STORAGE_FAILED');
    expect(error.message).toContain('connection reset by peer');
    expect(await fingerprint(stack.conn)).toEqual(before);
    expect((await databaseNames(stack.conn)).filter((name) => name.includes('_restoring_'))).toEqual([]);
    expect(await stack.catalog.get(backup.id)).toMatchObject({ state: 'VERIFIED' });
  });

  it('stopped (SIGTERM) while streaming: INTERRUPTED, the target untouched, nothing left', async () => {
    const before = await fingerprint(stack.conn);
    const stop = new AbortController();

    const error = await failure(restore(backups.zstd, { signal: stop.signal, onProgress: ({ phase, bytes }) => (phase === 'restore' && bytes ? stop.abort(new InterruptedError('SIGTERM')) : undefined) }));

    expect(error.code).toBe('INTERRUPTED');
    expect(await fingerprint(stack.conn)).toEqual(before);
    expect((await databaseNames(stack.conn)).filter((name) => name.includes('_restoring_'))).toEqual([]);
  });

  it('pg_restore never commits a stream refused at its end: the database it restored into stays empty', async () => {
    // The stored bytes are good; the manifest declares another SHA-256. pg_restore would
    // succeed on these bytes: only the held-back end stops it, and its transaction rolls back.
    const manifest = await manifestOf(backups.gzip);
    const wrong: Manifest = { ...manifest, objects: { ...manifest.objects, dump: { ...manifest.objects.dump, sha256: 'f'.repeat(64) } } };
    await sql({ ...stack.conn, database: 'postgres' }, 'CREATE DATABASE stream_into');
    const into = { ...stack.conn, database: 'stream_into' };

    const error = await failure(restoreStreamed({ storage: stack.storage, tools: pgRestoreTools as Required<RestoreTools>, manifest: wrong, into }));

    expect(error.code).toBe('CHECKSUM_MISMATCH');
    expect(await userTables('stream_into')).toBe(0);
    // The same stream with the right manifest commits everything.
    await restoreStreamed({ storage: stack.storage, tools: pgRestoreTools as Required<RestoreTools>, manifest, into });
    expect(await userTables('stream_into')).toBeGreaterThan(5);
    await sql({ ...stack.conn, database: 'postgres' }, 'DROP DATABASE stream_into');
  });
});

describe('VerifyingGate', () => {
  const chunks = [Buffer.from('first '), Buffer.from('second '), Buffer.from('last')];
  const whole = Buffer.concat(chunks);

  async function run(declared: { bytes: number; sha256: string }) {
    const gate = new VerifyingGate({ key: 'k', ...declared, backupId: 'b' });
    const out: string[] = [];
    gate.on('data', (chunk: Buffer) => out.push(chunk.toString()));
    const ended = new Promise<unknown>((resolve) => {
      gate.once('end', () => resolve('end'));
      gate.once('error', resolve);
    });
    for (const chunk of chunks) gate.write(chunk);
    await new Promise((resolve) => setImmediate(resolve));
    const beforeEnd = [...out];
    gate.end();
    return { beforeEnd, outcome: await ended, out };
  }

  it('holds the last chunk back until the whole input matched, then ends', async () => {
    const { beforeEnd, outcome, out } = await run(digestBytes(whole));
    expect(beforeEnd).toEqual(['first ', 'second ']);
    expect([outcome, out.join('')]).toEqual(['end', whole.toString()]);
  });

  it.each([
    ['another SHA-256', { ...digestBytes(whole), sha256: '0'.repeat(64) }],
    ['another size', { ...digestBytes(whole), bytes: whole.length + 1 }],
  ])('%s: errors with CHECKSUM_MISMATCH and never lets the last chunk or an end through', async (_what, declared) => {
    const { outcome, out } = await run(declared);
    expect(outcome).toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    expect(out).toEqual(['first ', 'second ']);
  });
});
