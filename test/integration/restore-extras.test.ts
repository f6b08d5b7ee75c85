import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgRestoreTools } from '../../shared/adapters/postgres/restore-tools';
import type { BackupEntry } from '../../shared/domain/backup';
import { ObjectInColdStorageError, type StrongboxError } from '../../shared/errors';
import type { RetrievalState } from '../../shared/ports/storage';
import { pgRestoreDeps } from '../../shared/runtime/restore-tools';
import { runLogicalBackup } from '../../shared/usecases/backup';
import { runRestore, type RestoreDeps, type RestoreRequest } from '../../shared/usecases/restore';
import { databaseNames, sql } from '../support/restore';
import { boundStorage } from '../support/faults';
import { startStack, type Stack } from '../support/stack';

let stack: Stack;
let deps: RestoreDeps;
let tmp: string;
let full: BackupEntry;

async function roles(): Promise<string[]> {
  const rows = await sql(stack.conn, "SELECT rolname FROM pg_roles WHERE rolname LIKE 'sbx\\_%' ORDER BY rolname");
  return rows.map((row) => String(row.rolname));
}

beforeAll(async () => {
  stack = await startStack({ storage: 'folder', rows: 50 });
  tmp = await mkdtemp(join(tmpdir(), 'sbx-restore-extras-'));
  deps = { ...stack.deps, ...pgRestoreDeps, tmpDir: tmp };
  await sql(stack.conn, "CREATE ROLE sbx_reader NOLOGIN; CREATE ROLE sbx_writer LOGIN CONNECTION LIMIT 7; ALTER ROLE sbx_writer SET statement_timeout = '5s'");
  full = await runLogicalBackup(stack.deps, { database: 'app', connection: stack.conn, tier: 'manual', compression: 'gzip', includeRolePasswords: false, runner: 'test' });
});
afterAll(async () => {
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function restore(overrides: Partial<RestoreRequest> = {}, extra: Partial<RestoreDeps> = {}) {
  return runRestore({ ...deps, ...extra }, { backupId: full.id, target: stack.conn, jobs: 1, dropFirst: false, force: false, ...overrides });
}

async function failure(promise: Promise<unknown>): Promise<StrongboxError> {
  try {
    await promise;
  } catch (error) {
    return error as StrongboxError;
  }
  throw new Error('expected the restore to fail');
}

describe('restore --globals', () => {
  it('re-creates dropped roles with their attributes and settings; roles still there are kept and reported', async () => {
    await sql(stack.conn, 'DROP ROLE sbx_reader; DROP ROLE sbx_writer');
    expect(await roles()).toEqual([]);
    const report = await restore({ globals: true });
    expect(await roles()).toEqual(['sbx_reader', 'sbx_writer']);
    const [writer] = await sql(stack.conn, "SELECT rolcanlogin, rolconnlimit, rolconfig FROM pg_roles WHERE rolname = 'sbx_writer'");
    expect(writer).toEqual({ rolcanlogin: true, rolconnlimit: 7, rolconfig: ['statement_timeout=5s'] });
    expect(report.globals?.existing).toContain(`role ${stack.conn.user}`);
    expect(report.globals?.existing).not.toContain('role sbx_reader');
    expect(report.steps.map((s) => s.name)).toEqual(['plan', 'cleanup', 'download', 'check', 'globals', 'restore', 'verify', 'swap']);
    expect(report.warnings.join(' ')).toMatch(/no role passwords/);
    await sql(stack.conn, `DROP DATABASE "${report.keptAs!}"`);
  });

  it('a statement that fails for another reason stops the restore before the target is touched', async () => {
    const before = await databaseNames(stack.conn);
    const refusing = { ...pgRestoreTools, applyGlobals: async () => ({ errors: ['permission denied to create role', 'role "postgres" already exists'] }) };
    const error = await failure(restore({ globals: true }, { restoreTools: refusing }));
    expect(error.code).toBe('RESTORE_GLOBALS_FAILED');
    expect(error.message).toContain('permission denied to create role');
    expect(error.message).not.toContain('already exists');
    expect(error.hint).toMatch(/not touched/);
    expect(await databaseNames(stack.conn)).toEqual(before);
  });

  it('the globals file is checked against the manifest like the dump: a damaged one is refused', async () => {
    const { writeFile, readFile } = await import('node:fs/promises');
    const path = join(stack.storage.bucket, full.globalsKey!);
    const good = await readFile(path);
    await writeFile(path, Buffer.concat([good, Buffer.from('\nDROP ROLE sbx_reader;\n')]));
    try {
      const before = await databaseNames(stack.conn);
      const error = await failure(restore({ globals: true }));
      expect(error.code).toBe('CHECKSUM_MISMATCH');
      expect(error.message).toContain('globals.sql');
      expect(await roles()).toEqual(['sbx_reader', 'sbx_writer']);
      expect(await databaseNames(stack.conn)).toEqual(before);
    } finally {
      await writeFile(path, good);
    }
  });
});

describe('restore --after', () => {
  it('runs the command once the restored database is in place, with PGDATABASE naming it', async () => {
    const echoed: string[] = [];
    const report = await restore({ force: true, after: 'psql -X -q -c "CREATE TABLE after_ran (at timestamptz DEFAULT now())" && echo migrated', echoAfter: (c) => echoed.push(c) });
    expect(report.after).toMatchObject({ ok: true, exitCode: 0 });
    expect(report.steps.at(-1)?.name).toBe('after');
    expect(echoed.join('')).toContain('migrated');
    expect(await sql(stack.conn, "SELECT to_regclass('public.after_ran') IS NOT NULL AS there")).toEqual([{ there: true }]);
    await sql(stack.conn, `DROP DATABASE "${report.keptAs!}"`);
  });

  it('a failing command is reported with its exit status and output; the restored database stays', async () => {
    const report = await restore({ force: true, after: 'echo "migration 42 failed" >&2; exit 3' });
    expect(report.after).toMatchObject({ ok: false, exitCode: 3, tail: 'migration 42 failed' });
    expect(await sql(stack.conn, "SELECT to_regclass('public.after_ran') IS NULL AS gone")).toEqual([{ gone: true }]);
    expect(stack.log.lines.some((line) => line.message?.includes('post-restore command failed'))).toBe(true);
    await sql(stack.conn, `DROP DATABASE "${report.keptAs!}"`);
  });

  it('an empty command is refused in the plan, before anything happens', async () => {
    const error = await failure(restore({ after: '  ' }));
    expect(error.code).toBe('INPUT_INVALID');
  });
});

describe('a backup in cold storage', () => {
  /** The stack's storage, with the dump in GLACIER until "retrieved". */
  function coldStorage(state: RetrievalState) {
    const requests: Array<{ key: string; days: number }> = [];
    const storage = Object.assign(boundStorage(stack.storage), {
      // Reads go through get (an S3-like storage): the folder's hard links would bypass it.
      linkTo: undefined,
      get: async (key: string) => {
        if (key.endsWith('/dump')) throw new ObjectInColdStorageError(key, 'GLACIER');
        return stack.storage.get(key);
      },
      startRetrieval: async (key: string, options: { days: number }) => {
        requests.push({ key, days: options.days });
        return { state, storageClass: 'GLACIER' };
      },
    });
    return { storage, requests };
  }

  it('starts its retrieval and says when to come back; the target is not touched', async () => {
    const before = await databaseNames(stack.conn);
    const { storage, requests } = coldStorage('started');
    const error = await failure(restore({ force: true }, { storage }));
    expect(error.code).toBe('BACKUP_IN_COLD_STORAGE');
    expect(error.message).toMatch(/retrieval was started now .*3 to 5 hours/);
    expect(error.hint).toMatch(/run the same command again/);
    expect(requests).toEqual([{ key: full.key, days: 7 }]);
    expect(await databaseNames(stack.conn)).toEqual(before);
  });

  it('a retrieval already under way is not requested twice in the message: it says so', async () => {
    const { storage } = coldStorage('in-progress');
    const error = await failure(restore({ force: true }, { storage }));
    expect(error.message).toMatch(/already under way/);
  });

  it('a storage without a cold tier passes the error through unchanged', async () => {
    const storage = Object.assign(boundStorage(stack.storage), {
      // Reads go through get (an S3-like storage): the folder's hard links would bypass it.
      linkTo: undefined,
      get: async (key: string) => {
        throw new ObjectInColdStorageError(key, 'GLACIER');
      },
    });
    const error = await failure(restore({ force: true }, { storage }));
    expect(error.code).toBe('OBJECT_IN_COLD_STORAGE');
  });
});

describe('restoring from the repository folder', () => {
  /** The stack's storage, recording which way each dump was read. */
  function watched() {
    const calls: string[] = [];
    const real = boundStorage(stack.storage) as typeof stack.storage & { linkTo(key: string, destination: string): Promise<boolean> };
    const storage = Object.assign({ ...real }, {
      get: async (key: string) => (calls.push(`get ${key.split('/').pop()!}`), real.get(key)),
      linkTo: async (key: string, destination: string) => {
        const linked = await real.linkTo(key, destination);
        calls.push(`link ${key.split('/').pop()!} ${linked}`);
        return linked;
      },
    });
    return { storage, calls };
  }

  it('hard-links the dump into the temporary folder instead of copying it, and checks its SHA-256 all the same', async () => {
    const { storage, calls } = watched();
    const report = await restore({ force: true }, { storage });
    expect(calls).toEqual(['link dump true']);
    expect(report.rows).toBeGreaterThan(0);
    await sql(stack.conn, `DROP DATABASE "${report.keptAs!}"`);
  });

  it('two restores into one target within a second both succeed: the second waits for free names', async () => {
    const first = await restore({ force: true });
    const second = await restore({ force: true });
    expect(second.keptAs).not.toBe(first.keptAs);
    await sql(stack.conn, `DROP DATABASE "${first.keptAs!}"; `);
    await sql(stack.conn, `DROP DATABASE "${second.keptAs!}"`);
  });

  it('the SHA-256 check runs beside the tools: a mismatch stops the one running, and the target is kept', async () => {
    const damaged = await runLogicalBackup(stack.deps, { database: 'app', connection: stack.conn, tier: 'manual', compression: 'gzip', includeRolePasswords: false, runner: 'test' });
    const raw = stack.rawStorage();
    const bytes = await raw.getBytes(damaged.key);
    bytes.writeUInt8(bytes.readUInt8(bytes.length >> 1) ^ 0x01, bytes.length >> 1);
    await raw.putBytes(damaged.key, bytes);
    const before = await databaseNames(stack.conn);
    // A table-of-contents read that lasts until it is stopped: the check, not the tool, must end it.
    let started = false;
    const lasting = {
      ...pgRestoreTools,
      listArchive: async (_file: string, signal?: AbortSignal) => {
        started = true;
        return new Promise<string>((_resolve, reject) => signal?.addEventListener('abort', () => reject(new Error('pg_restore was killed by SIGTERM')), { once: true }));
      },
    };
    const error = await failure(restore({ backupId: damaged.id }, { restoreTools: lasting }));
    expect(started).toBe(true);
    expect(error).toMatchObject({ code: 'CHECKSUM_MISMATCH', message: expect.stringContaining(damaged.key) });
    expect(await databaseNames(stack.conn)).toEqual(before);
    expect(await stack.catalog.get(damaged.id)).toMatchObject({ state: 'FAILED', errorCode: 'CHECKSUM_MISMATCH' });
  });

  it('copies when the temporary folder is on another filesystem (/dev/shm)', async () => {
    const shm = await mkdtemp('/dev/shm/sbx-restore-');
    try {
      const { storage, calls } = watched();
      const report = await restore({ force: true }, { storage, tmpDir: shm });
      expect(calls).toEqual(['link dump false', 'get dump']);
      await sql(stack.conn, `DROP DATABASE "${report.keptAs!}"`);
      expect(await readdir(shm)).toEqual([]);
    } finally {
      await rm(shm, { recursive: true, force: true });
    }
  });
});
