import { availableParallelism, hostname } from 'node:os';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { readDatabaseSecret } from '../shared/adapters/secrets/database-secret';
import { pgBaseBackupTools } from '../shared/adapters/postgres/basebackup';
import { TIERS, type BackupEntry, type BaseCompression, type Compression, type Tier } from '../shared/domain/backup';
import { isBackupId } from '../shared/domain/keys';
import { MAX_DUMP_JOBS } from '../shared/domain/dump-groups';
import { asStrongboxError, InputError, InterruptedError } from '../shared/errors';
import { resolveDatabase } from '../shared/local/databases';
import { loadConfig } from '../shared/local/config-file';
import { openLocalContext } from '../shared/local/context';
import { resolveHome } from '../shared/local/home';
import { localProcesses, thisProcessRunner } from '../shared/local/processes';
import { stderrLog } from '../shared/local/stderr-log';
import { awsDeps } from '../shared/runtime/aws';
import { pgDumpTools } from '../shared/runtime/dump-tools';
import { muteSdkNodeVersionWarning } from '../shared/runtime/node-warnings';
import { STRONGBOX_VERSION } from '../shared/runtime/version';
import { runLogicalBackup, type BackupDeps, type BackupRequest } from '../shared/usecases/backup';
import { runBaseBackup } from '../shared/usecases/base-backup';

/** Exit codes of the dump task, as ECS and the local launcher see them. */
export const EXIT = { ok: 0, failed: 1, badInput: 2, interrupted: 143 } as const;

/** What the task needs from its process; injected so that tests drive it. */
export interface TaskIo {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Registers the handler for SIGTERM (ECS stop) and SIGINT. */
  onStop(handler: (signal: string) => void): void;
}

interface TaskInput {
  database: string;
  tier: Tier;
  backupId?: string;
  secretArn?: string;
  compression?: Compression | 'none';
  /** STRONGBOX_DUMP_JOBS: the data parts of a logical backup (docs/backups.md); absent: chosen from size and vCPU. */
  dumpJobs?: number;
  type: 'logical' | 'base';
}

function readInput(env: NodeJS.ProcessEnv): TaskInput {
  const problems: string[] = [];
  const database = env.STRONGBOX_DATABASE ?? '';
  if (!database) problems.push('STRONGBOX_DATABASE is not set');
  const tier = (env.STRONGBOX_TIER ?? 'manual') as Tier;
  if (!TIERS.includes(tier)) problems.push(`STRONGBOX_TIER "${tier}" is not one of ${TIERS.join(', ')}`);
  const backupId = env.STRONGBOX_BACKUP_ID;
  if (backupId !== undefined && !isBackupId(backupId)) problems.push(`STRONGBOX_BACKUP_ID "${backupId}" is not a backup id`);
  const type = env.STRONGBOX_BACKUP_TYPE ?? 'logical';
  if (type !== 'logical' && type !== 'base') problems.push(`STRONGBOX_BACKUP_TYPE "${type}" is not logical or base`);
  const dumpJobsText = env.STRONGBOX_DUMP_JOBS;
  const dumpJobs = dumpJobsText === undefined || dumpJobsText === '' ? undefined : Number(dumpJobsText);
  if (dumpJobs !== undefined && !(Number.isInteger(dumpJobs) && dumpJobs >= 1 && dumpJobs <= MAX_DUMP_JOBS)) problems.push(`STRONGBOX_DUMP_JOBS "${dumpJobsText}" is not a whole number from 1 to ${MAX_DUMP_JOBS}`);
  const compression = env.STRONGBOX_COMPRESSION as Compression | 'none' | undefined;
  if (compression !== undefined && compression !== 'gzip' && compression !== 'zstd' && !(compression === 'none' && type === 'base')) {
    problems.push(`STRONGBOX_COMPRESSION must be gzip or zstd${type === 'base' ? ' (or none for a base backup)' : ''}`);
  }
  if (problems.length) throw new InputError(`dump task input is invalid: ${problems.join('; ')}`, 'the scheduler sets these overrides; check the RunTask call');
  return {
    database,
    tier,
    ...(backupId ? { backupId } : {}),
    ...(env.STRONGBOX_SECRET_ARN ? { secretArn: env.STRONGBOX_SECRET_ARN } : {}),
    ...(compression ? { compression } : {}),
    ...(dumpJobs !== undefined ? { dumpJobs } : {}),
    type: type as TaskInput['type'],
  };
}

/** A base backup stores zstd or a plain tar; a database's `gzip` (pg_dump's own) means zstd here. */
function baseCompression(compression: Compression | 'none' | undefined): BaseCompression {
  return compression === 'none' ? 'none' : 'zstd';
}

/**
 * The dump task: one backup of one database, then exit: logical (pg_dump), or a physical
 * base backup of its cluster when STRONGBOX_BACKUP_TYPE is `base`. In AWS (STRONGBOX_BUCKET
 * set) it reads the database secret itself and writes to S3 and DynamoDB; locally it
 * joins the running `npm start` instance's catalog. SIGTERM aborts the dump: nothing
 * partial is kept, the entry is FAILED, and the task exits 143 within the stop timeout.
 */
export async function runDumpTask(io: TaskIo): Promise<number> {
  const log = stderrLog(true);
  const abort = new AbortController();
  // Local mode's launcher says who stops its tasks (npm start stopping), so the entry's reason is honest.
  io.onStop((signal) => abort.abort(new InterruptedError(signal, io.env.STRONGBOX_STOP_REASON)));
  let close: () => Promise<void> = async () => {};
  try {
    const input = readInput(io.env);
    let deps: Omit<BackupDeps, 'tools'>;
    let request: Omit<BackupRequest, 'tier' | 'runner' | 'signal'>;
    const logicalCompression = input.compression === 'none' ? undefined : input.compression;
    if (io.env.STRONGBOX_BUCKET) {
      deps = { ...awsDeps(io.env, log), version: STRONGBOX_VERSION };
      if (!input.secretArn) throw new InputError('STRONGBOX_SECRET_ARN is not set', 'the schedule input must carry the database secret ARN');
      const connection = await readDatabaseSecret(new SecretsManagerClient({}), input.secretArn, input.database);
      request = { database: input.database, connection, compression: logicalCompression ?? 'gzip', includeRolePasswords: false, waitForVerification: false };
    } else {
      const { config } = loadConfig(io.env, io.cwd);
      const paths = resolveHome(io.env, io.cwd);
      const context = await openLocalContext({ paths, storage: config.storage, alertsConfig: config.alerts, env: io.env, log });
      close = context.close;
      deps = { ...context, processes: localProcesses, version: STRONGBOX_VERSION, heartbeatMs: config.heartbeatSeconds * 1000, staleAfterMs: config.staleAfterSeconds * 1000 };
      const target = resolveDatabase({ name: input.database, ...(logicalCompression ? { compression: logicalCompression } : {}) }, config, io.env, paths);
      request = { database: target.name, connection: target.connection, compression: target.compression, includeRolePasswords: target.includeRolePasswords, ...(target.dumpJobs !== undefined ? { dumpJobs: target.dumpJobs } : {}) };
    }
    const common = {
      tier: input.tier,
      ...(input.backupId ? { backupId: input.backupId } : {}),
      runner: io.env.ECS_CONTAINER_METADATA_URI_V4 ? `ecs:${hostname()}` : thisProcessRunner(),
      signal: abort.signal,
      ...(request.waitForVerification === false ? { waitForVerification: false } : {}),
    };
    const entry: BackupEntry =
      input.type === 'base'
        ? await runBaseBackup({ ...deps, tools: pgBaseBackupTools }, { database: request.database, connection: request.connection, compression: baseCompression(input.compression ?? request.compression), ...common })
        : await runLogicalBackup({ ...deps, tools: pgDumpTools }, { ...request, ...common, vcpu: availableParallelism(), ...(input.dumpJobs !== undefined ? { dumpJobs: input.dumpJobs } : {}) });
    log.info('dump task finished', { backupId: entry.id, state: entry.state, bytes: entry.bytes });
    return entry.state === 'FAILED' ? EXIT.failed : EXIT.ok;
  } catch (error) {
    const failure = asStrongboxError(error);
    log.error('dump task failed', { code: failure.code, reason: failure.message, hint: failure.hint });
    if (failure instanceof InterruptedError) return EXIT.interrupted;
    return failure instanceof InputError ? EXIT.badInput : EXIT.failed;
  } finally {
    await close().catch(() => undefined);
  }
}

const isEntryPoint = process.argv[1] !== undefined && /task-dump\.js$/.test(process.argv[1]);
if (isEntryPoint) {
  muteSdkNodeVersionWarning();
  void runDumpTask({
    env: process.env,
    cwd: process.cwd(),
    onStop: (handler) => {
      process.once('SIGTERM', () => handler('SIGTERM'));
      process.once('SIGINT', () => handler('SIGINT'));
    },
  }).then((code) => process.exit(code));
}
