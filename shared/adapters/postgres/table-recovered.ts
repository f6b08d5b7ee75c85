/**
 * A cluster recovered to a moment, as the source of a table restore: reachable only over its
 * Unix socket (its own pg_hba.conf trusts local connections; no TCP), its tables listed and
 * counted, one database dumped with pg_dump, then stopped and removed. The cluster belongs to
 * the task: nobody else connects, so its counts and its dump see the same rows.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { installedMajors, serverMajorFor } from '../../domain/pg-majors';
import { DumpError, StrongboxError } from '../../errors';
import type { RecoveredCluster, ScratchRecoveryTools } from '../../usecases/restore-table/as-of-ports';
import { connectClient } from './client';
import { findBinDir, freePort, writeOwned } from './cluster';
import { prepareEmptyDataDir, socketDirFor, unpackBaseBackup, writeRecoveryConfig } from './recovery';
import { runAsServerUser, runCommand } from './process';
import { openRestoreServer } from './restore-server';
import { matchTables } from './tables';
import { toolEnv } from './tool-stream';
import type { PgConnection, TableRef } from './types';

/** What the scratch cluster's pg_hba.conf allows: local (socket) connections only, without password. */
export const SCRATCH_HBA = '# Written by Strongbox: a scratch cluster recovered for a table restore, reachable on its socket only.\nlocal all all trust\n';

/**
 * Makes the unpacked, configured data directory reachable by this process alone: pg_hba.conf
 * trusts the socket (the socket folder is the data directory, mode 0700) and nothing else,
 * and the server listens on no TCP address.
 */
export async function lockDownScratch(dataDir: string): Promise<{ listen_addresses: string }> {
  await writeOwned(join(dataDir, 'pg_hba.conf'), SCRATCH_HBA);
  return { listen_addresses: '' };
}

/**
 * Opens the promoted scratch cluster: connects over its socket as its bootstrap superuser
 * (the role with oid 10, found by logging in as `postgres` or `fallbackUser`).
 *
 * @throws StrongboxError RECOVERY_FAILED when no login works.
 */
export async function openRecoveredCluster(options: { dataDir: string; socketDir: string; port: number; fallbackUser: string }): Promise<RecoveredCluster> {
  const base = { host: options.socketDir, port: options.port, database: 'template1' };
  let superuser: string | undefined;
  let lastError: unknown;
  for (const user of [...new Set(['postgres', options.fallbackUser])]) {
    try {
      const client = await connectClient({ ...base, user });
      try {
        superuser = String((await client.query<{ rolname: string }>('SELECT rolname FROM pg_catalog.pg_roles WHERE oid = 10')).rows[0]?.rolname);
      } finally {
        await client.end().catch(() => undefined);
      }
      break;
    } catch (error) {
      lastError = error;
    }
  }
  if (superuser === undefined) {
    throw new StrongboxError('RECOVERY_FAILED', `cannot log in to the recovered cluster in ${options.dataDir}: ${String(lastError)}`, 'the cluster trusts its socket; check that the base backup holds the role "postgres" or the target\'s user');
  }
  const user = superuser;
  const connection = (database: string): PgConnection => ({ ...base, user, database });
  return {
    connection,
    tables: (database) => listTables(connection(database)),
    countRows: async (database, tables) => {
      const server = await openRestoreServer(connection(database));
      try {
        return await server.countRows(database, tables);
      } finally {
        await server.close();
      }
    },
    dump: (database, file, excludeData, signal) => dumpDatabase(connection(database), file, excludeData, signal),
  };
}

const LOG_NAME = 'strongbox-recovery.log';

function recoveryFailed(message: string, hint: string): StrongboxError {
  return new StrongboxError('RECOVERY_FAILED', message, hint);
}

/**
 * Starts the locked-down scratch cluster and waits until it has promoted, asking it over its
 * socket as `postgres` or `user` (whichever role exists: the probe must not depend on the OS
 * user this process runs as, `node` in the task). Throws RECOVERY_FAILED with the log's last
 * lines when it stops before promoting (WAL missing, target not reached), when neither role
 * exists, or after `timeoutMs`.
 */
export async function startScratch(options: { dataDir: string; port: number; timeoutMs: number; binDir?: string; user?: string }): Promise<{ seconds: number; logFile: string; timeline?: number }> {
  const binDir = options.binDir ?? (await findBinDir());
  const logFile = join(options.dataDir, LOG_NAME);
  const started = Date.now();
  const tail = async () => (await readFile(logFile, 'utf8').catch(() => '')).trimEnd().split('\n').slice(-8).join('\n');
  const start = await runAsServerUser(join(binDir, 'pg_ctl'), ['-D', options.dataDir, '-l', logFile, '-w', '-t', String(Math.ceil(options.timeoutMs / 1000)), '-s', 'start'], { cwd: options.dataDir });
  if (start.code !== 0) throw recoveryFailed(`the scratch cluster did not start: ${await tail()}`, 'a missing WAL segment stops recovery on purpose (nothing is promoted with data missing): check the archive with `strongbox status`');
  const base = { host: socketDirFor(options.dataDir), port: options.port, database: 'template1' };
  const users = [...new Set(['postgres', ...(options.user ? [options.user] : [])])];
  for (;;) {
    let refused = 0;
    for (const user of users) {
      const client = await connectClient({ ...base, user }).catch((error: unknown) => {
        if (error instanceof StrongboxError && error.code === 'DB_AUTH_FAILED') refused += 1;
        return undefined;
      });
      if (!client) continue;
      try {
        if ((await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r === false) {
          const tli = (await client.query<{ t: string }>('SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) AS t')).rows[0]?.t;
          return { seconds: (Date.now() - started) / 1000, logFile, ...(tli && /^[0-9A-F]{8}$/.test(tli) ? { timeline: parseInt(tli, 16) } : {}) };
        }
      } finally {
        await client.end().catch(() => undefined);
      }
      break;
    }
    if (refused === users.length) throw recoveryFailed(`the recovered cluster has none of the roles ${users.join(', ')}`, 'restore as of a moment connects as "postgres" or the target\'s user: one of them must exist in the backed-up server');
    const status = await runAsServerUser(join(binDir, 'pg_ctl'), ['-D', options.dataDir, 'status'], { cwd: '/' });
    if (status.code !== 0) throw recoveryFailed(`recovery stopped before promotion: ${await tail()}`, 'fix the cause (e.g. a segment the archive lacks: `strongbox status`) and run the table restore again');
    if (Date.now() - started > options.timeoutMs) throw recoveryFailed(`the scratch cluster did not promote within ${Math.round(options.timeoutMs / 1000)} s`, 'give it more time (--timeout), or recover to an earlier moment');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Stops the scratch cluster in `dataDir` if it runs (immediate shutdown: it is thrown away) and removes the folder. */
export async function discardScratch(dataDir: string, binDir?: string): Promise<void> {
  const bin = binDir ?? (await findBinDir());
  await runAsServerUser(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-s', 'stop'], { cwd: '/' });
  await rm(dataDir, { recursive: true, force: true });
}

/** The server of exactly `major` under /usr/lib/postgresql (the task image installs every supported one). @throws PG_VERSION_MISMATCH */
export async function serverBinDir(major: number | undefined): Promise<string> {
  const folders = await readdir(PG_ROOT).catch(() => [] as string[]);
  const withServer: string[] = [];
  for (const folder of folders) if (existsSync(join(PG_ROOT, folder, 'bin', 'postgres'))) withServer.push(folder);
  return join(PG_ROOT, String(serverMajorFor(major, installedMajors(withServer))), 'bin');
}

const PG_ROOT = '/usr/lib/postgresql';

/** The user tables of `conn.database` that hold rows (partitioned parents left out, as manifests do). */
async function listTables(conn: PgConnection): Promise<TableRef[]> {
  let client: pg.Client | undefined;
  try {
    client = await connectClient(conn);
    const all = await matchTables(client, conn.database, []);
    return all.filter((t) => t.kind === 'r').map(({ schema, name }): TableRef => ({ schema, name }));
  } finally {
    await client?.end().catch(() => undefined);
  }
}

/**
 * `pg_dump -Fc --no-owner --no-acl` of the database into `file` (uncompressed: it stays on the
 * task's disk for minutes), leaving out the rows of `excludeData`.
 *
 * @throws DumpError with pg_dump's last lines.
 */
async function dumpDatabase(conn: PgConnection, file: string, excludeData: string[], signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  const args = ['--format=custom', '--compress=0', '--no-owner', '--no-acl', '--no-password', '--file', file, ...excludeData.flatMap((p) => ['--exclude-table-data', p])];
  const result = await runCommand('pg_dump', args, { env: toolEnv(conn), cwd: '/' });
  if (result.code !== 0) throw new DumpError(`pg_dump of the recovered database "${conn.database}" failed: ${result.stderr.trim().split('\n').slice(-5).join(' | ')}`, 'nothing was changed on the target; read the message, then run the table restore again');
}

/** The scratch recovery of a table restore as of a moment, on this machine's PostgreSQL binaries. */
export const pgScratchRecovery: ScratchRecoveryTools = {
  prepareEmptyDataDir,
  unpackBaseBackup,
  writeRecoveryConfig,
  socketDirFor,
  startAndAwaitPromotion: startScratch,
  lockDown: lockDownScratch,
  open: openRecoveredCluster,
  serverBinDir,
  discard: (dataDir, binDir) => discardScratch(dataDir, binDir),
  freePort,
};
