/**
 * pg_basebackup as a stream: the whole cluster as one tar on stdout, with the WAL it needs
 * inside (`-X fetch`), piped straight into zstd. Beside it, the checks before a base backup
 * and the observer that reads the tar's own facts (backup_label, the manifest's WAL range,
 * pg_control) from the stored bytes as they pass. The connection travels in the child's
 * environment (toolEnv), never in argv.
 */
import { execFile, spawn } from 'node:child_process';
import { Transform, type Readable } from 'node:stream';
import { promisify } from 'node:util';
import type { BaseCompression } from '../../domain/backup';
import { BASE_TAR_CAPTURE } from '../../domain/base-manifest';
import { TarEntryCapture } from '../../domain/tar-label';
import { DumpError, StrongboxError } from '../../errors';
import type { BaseBackupSource, BaseBackupTools, TarObserver } from '../../ports/base-backup';
import { connectClient } from './client';
import { mapPgError } from './errors';
import { runPipeline, toolEnv } from './tool-stream';
import type { PgConnection, ToolStream } from '../../ports/postgres';

const execFileAsync = promisify(execFile);
/** How far the tar observer's decoder may fall behind the upload before the upload waits. */
const DECODER_SLACK_BYTES = 8 * 1024 * 1024;

function replicationHint(conn: PgConnection): string {
  return (
    `as a superuser run ALTER ROLE "${conn.user}" REPLICATION; and make sure pg_hba.conf has a line such as ` +
    `\`host replication ${conn.user} <this host's address>/32 scram-sha-256\` (then SELECT pg_reload_conf())`
  );
}

/** The role may not stream a base backup (no REPLICATION attribute, or no `replication` line in pg_hba.conf). */
export function replicationNotPermitted(conn: PgConnection, detail: string, cause?: unknown): StrongboxError {
  return new StrongboxError('REPLICATION_NOT_PERMITTED', `role "${conn.user}" may not take a base backup: ${detail}`, replicationHint(conn), cause === undefined ? undefined : { cause });
}

function tablespacesUnsupported(names: string): StrongboxError {
  return new StrongboxError(
    'BASE_BACKUP_TABLESPACES',
    `the cluster has tablespaces besides pg_default and pg_global (${names}): pg_basebackup cannot stream them as one tar`,
    'move their tables to pg_default (ALTER TABLE … SET TABLESPACE pg_default) and drop the tablespaces, or use logical backups (strongbox backup --type logical) for this database',
  );
}

/**
 * Checks before a base backup, in one SQL session: the role has REPLICATION (or is
 * superuser), the cluster has no tablespace other than pg_default/pg_global, and the
 * server's identity. Throws REPLICATION_NOT_PERMITTED, BASE_BACKUP_TABLESPACES, or the
 * DB_* connection errors (mapPgError).
 */
export async function inspectBaseBackupSource(conn: PgConnection): Promise<BaseBackupSource> {
  const client = await connectClient(conn);
  try {
    const { rows } = await client.query<Record<string, string | number | boolean | null>>(`
      SELECT current_setting('server_version') AS version,
             current_setting('server_version_num')::int AS version_num,
             (SELECT system_identifier FROM pg_control_system())::text AS system_id,
             pg_size_bytes(current_setting('wal_segment_size'))::int AS segment_size,
             (SELECT string_agg(spcname, ', ' ORDER BY spcname) FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global')) AS tablespaces,
             (SELECT rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user) AS may_replicate,
             (SELECT coalesce(sum(pg_database_size(oid)), 0) FROM pg_database WHERE has_database_privilege(oid, 'CONNECT'))::text AS cluster_bytes,
             pg_is_in_recovery() AS in_recovery`);
    const row = rows[0]!;
    if (row.may_replicate !== true) throw replicationNotPermitted(conn, 'it is neither superuser nor has the REPLICATION attribute');
    if (typeof row.tablespaces === 'string') throw tablespacesUnsupported(row.tablespaces);
    return {
      serverVersion: String(row.version),
      serverVersionNum: Number(row.version_num),
      systemId: String(row.system_id),
      segmentSize: Number(row.segment_size),
      clusterSizeBytes: Number(row.cluster_bytes),
      inRecovery: row.in_recovery === true,
    };
  } catch (error) {
    throw mapPgError(error, conn, 'inspect the cluster on');
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** pg_basebackup's own failures that have a precise remedy. */
async function refineFailure(error: StrongboxError, conn: PgConnection): Promise<StrongboxError> {
  const text = error.message;
  if (/must be superuser or replication role|permission denied to start WAL sender|must have (the )?REPLICATION/i.test(text)) return replicationNotPermitted(conn, text, error);
  if (/no pg_hba\.conf entry for replication connection/i.test(text)) return replicationNotPermitted(conn, text, error);
  if (/can only write single tablespace to stdout/i.test(text)) return tablespacesUnsupported('see the message above');
  if (/max_wal_senders|exceeds max_wal_senders|too many (clients|connections)/i.test(text)) {
    return new DumpError(text, 'the server has no free WAL sender: raise max_wal_senders (restart needed) or wait for other replication clients');
  }
  return error;
}

/**
 * Streams `pg_basebackup -D - -Ft -X fetch -v --checkpoint=fast --label <label>`, through
 * `zstd -1 -T0` unless `compression` is `none` (zstd reads pg_basebackup's pipe itself).
 * Errors arrive on the ToolStream: REPLICATION_NOT_PERMITTED, BASE_BACKUP_TABLESPACES, the
 * DB_* codes, or DumpError with pg_basebackup's last messages.
 */
export function spawnBaseBackup(conn: PgConnection, options: { compression: BaseCompression; label: string; signal?: AbortSignal }): ToolStream {
  const args = ['-D', '-', '-Ft', '-X', 'fetch', '-v', '--checkpoint=fast', '--no-password', `--label=${options.label}`];
  const steps = [{ command: 'pg_basebackup', args }];
  if (options.compression === 'zstd') steps.push({ command: 'zstd', args: ['-1', '-T0', '-q', '-c'] });
  return runPipeline(steps, { env: toolEnv(conn), conn, refine: (error) => refineFailure(error, conn), ...(options.signal ? { signal: options.signal } : {}) });
}

/**
 * Reads the tar inside a stored base backup as it passes: directly for `none`, through a
 * `zstd -d` child for `zstd` (which also proves the compressed bytes decode). The observed
 * stream is held back (backpressure) while the decoder is behind, and ends only once the
 * tar was read to its end-of-archive block; a damaged or truncated archive destroys it
 * with TarFormatError or DumpError.
 */
export function observeBaseTar(compression: BaseCompression): TarObserver {
  const capture = new TarEntryCapture(BASE_TAR_CAPTURE);
  let ended = false;
  return {
    observe(stored: Readable): Readable {
      const decoder = compression === 'zstd' ? spawn('zstd', ['-d', '-q', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] }) : undefined;
      let stderr = '';
      const decoded = decoder
        ? new Promise<void>((resolve, reject) => {
            decoder.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
            decoder.on('error', (error) => reject(new DumpError(`cannot run zstd -d: ${error.message}`, 'install zstd (apt-get install zstd) and check PATH', { cause: error })));
            decoder.on('close', (code, signal) => (code === 0 ? resolve() : reject(new DumpError(`zstd -d of the backup stream failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`, 'the compressed stream is damaged; take the backup again'))));
          })
        : Promise.resolve();
      decoded.catch(() => undefined);
      const tap: Transform = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          if (!decoder) {
            try {
              capture.push(chunk);
            } catch (error) {
              return callback(error as Error);
            }
            return callback(null, chunk);
          }
          // Some slack, so that the upload does not wait on each of the decoder's pauses; beyond it, it does.
          if (decoder.stdin.write(chunk) || decoder.stdin.writableLength < DECODER_SLACK_BYTES) return callback(null, chunk);
          decoder.stdin.once('drain', () => callback(null, chunk));
        },
        flush(callback) {
          decoder?.stdin.end();
          decoded.then(() => {
            capture.end();
            ended = true;
          }).then(() => callback(), (error: Error) => callback(error));
        },
      });
      if (decoder) {
        decoder.stdout.on('data', (chunk: Buffer) => {
          try {
            capture.push(chunk);
          } catch (error) {
            tap.destroy(error as Error);
          }
        });
        decoder.stdin.on('error', () => undefined); // its death is reported by 'close'
        decoded.catch((error: Error) => tap.destroy(error));
        tap.once('close', () => {
          if (decoder.exitCode === null && decoder.signalCode === null) decoder.kill('SIGKILL');
        });
      }
      stored.on('error', (error) => tap.destroy(error));
      return stored.pipe(tap);
    },
    facts() {
      if (!ended) throw new DumpError('the base backup stream was not read to its end', 'this is a bug: facts() is valid once the observed stream ended');
      const text = (name: keyof typeof BASE_TAR_CAPTURE) => capture.entry(name)?.data.toString('utf8');
      const tablespaceMap = text('tablespace_map');
      return {
        label: text('backup_label') ?? '',
        manifestTail: text('backup_manifest') ?? '',
        pgControlHead: capture.entry('global/pg_control')?.data ?? new Uint8Array(),
        names: capture.names,
        ...(tablespaceMap ? { tablespaceMap } : {}),
      };
    },
  };
}

/** pg_basebackup's version, e.g. '15.18'. Throws DumpError when it cannot be run. */
export async function basebackupVersion(): Promise<string> {
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync('pg_basebackup', ['--version']));
  } catch (error) {
    throw new DumpError('cannot run pg_basebackup --version', 'install the PostgreSQL 15 client tools (apt-get install postgresql-client-15) and check PATH', { cause: error });
  }
  const version = /\(PostgreSQL\)\s+(\S+)/.exec(stdout)?.[1];
  if (!version) throw new DumpError(`pg_basebackup --version printed no version: ${stdout.trim()}`, 'check that PATH finds the PostgreSQL client tools');
  return version;
}

/**
 * A temporary physical replication slot reserving WAL from now, held by its own session
 * until `release` (PostgreSQL drops a temporary slot when its session ends, also when this
 * process dies). Needs the REPLICATION attribute pg_basebackup already needs. When the
 * server has no free slot (max_replication_slots), says why instead of failing the backup.
 */
async function reserveWal(conn: PgConnection, name: string): Promise<{ release(): Promise<void> } | { reason: string }> {
  const client = await connectClient(conn);
  try {
    await client.query('SELECT pg_create_physical_replication_slot($1, true, true)', [name]);
  } catch (error) {
    await client.end().catch(() => undefined);
    const code = (error as { code?: string }).code;
    // 53400: all slots in use, or max_replication_slots = 0; 55000: slots unavailable (wal_level minimal).
    if (code === '53400' || code === '55000') return { reason: (error as Error).message };
    // 42501: no REPLICATION attribute, which pg_basebackup would be refused for too.
    if (code === '42501') throw replicationNotPermitted(conn, (error as Error).message, error);
    throw mapPgError(error, conn);
  }
  return { release: () => client.end().catch(() => undefined) };
}

/** The real pg_basebackup, zstd and server checks behind the BaseBackupTools port. */
export const pgBaseBackupTools: BaseBackupTools = {
  inspect: inspectBaseBackupSource,
  spawnBaseBackup,
  reserveWal,
  observeTar: observeBaseTar,
  toolVersion: basebackupVersion,
};
