import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { pgBaseBackupTools } from '../../adapters/postgres/basebackup';
import { isFinal, TIERS, type BackupEntry, type BaseCompression, type Compression, type Tier } from '../../domain/backup';
import { InputError } from '../../errors';
import { resolveDatabase } from '../../local/databases';
import { localProcesses, thisProcessRunner } from '../../local/processes';
import { pgDumpTools } from '../../runtime/dump-tools';
import { STRONGBOX_VERSION } from '../../runtime/version';
import { runLogicalBackup, type BackupProgress } from '../../usecases/backup';
import { runBaseBackup } from '../../usecases/base-backup';
import { forceReleaseBackupLock, readBackupLock } from '../../usecases/backup-lock';
import { endProgress, formatBytes, printResult, UsageError, type CommandRunner, type Output } from '../output';
import { withInterrupts } from '../interrupts';
import { withSession, type Session } from '../session';
import { terminalConfirm, type Confirm } from './restore';

interface BackupFlags {
  database?: string;
  databaseUrl?: string;
  tier: string;
  table: string[];
  compression?: string;
  type?: string;
  force?: boolean;
  yes?: boolean;
}

/** The `--json` shape of a backup (the issue's contract). */
export function backupSummary(entry: BackupEntry): Record<string, unknown> {
  return {
    id: entry.id,
    state: entry.state,
    key: entry.key,
    bytes: entry.bytes ?? 0,
    sha256: entry.sha256 ?? null,
    tier: entry.tier,
    database: entry.database,
    startedAt: entry.startedAt,
    finishedAt: entry.finishedAt ?? null,
    ...(entry.reason ? { reason: entry.reason } : {}),
    ...(entry.tables ? { tables: entry.tables } : {}),
    ...(entry.base
      ? {
          kind: entry.kind,
          base: {
            startLsn: entry.base.startLsn,
            stopLsn: entry.base.stopLsn,
            timeline: entry.base.timeline,
            stopTimeline: entry.base.stopTimeline,
            walSegments: entry.base.walSegments,
            systemId: entry.base.systemId,
            walIncluded: entry.base.walIncluded,
          },
        }
      : {}),
  };
}

/** Checks `--type`, and the flags that depend on it; returns the type. Throws UsageError. */
function checkType(flags: BackupFlags): 'logical' | 'base' {
  const type = flags.type ?? 'logical';
  if (type !== 'logical' && type !== 'base') throw new UsageError(`--type ${type} is not logical or base`, 'logical is pg_dump of one database; base is pg_basebackup of the whole cluster (for point-in-time recovery)');
  if (type === 'base') {
    if (flags.table.length) throw new UsageError('--table does not go with --type base', 'a base backup copies the whole cluster; take a logical backup of some tables with --type logical --table …');
    if (flags.compression !== undefined && flags.compression !== 'zstd' && flags.compression !== 'none') {
      throw new UsageError(`--compression ${flags.compression} is not zstd or none for a base backup`, 'zstd (default) compresses the tar; none stores it as it is');
    }
    return type;
  }
  if (flags.compression !== undefined && flags.compression !== 'gzip' && flags.compression !== 'zstd') {
    throw new UsageError(`--compression ${flags.compression} is not gzip or zstd`, 'zstd is faster (pg_dump -Z0 | zstd); gzip is pg_dump\'s own');
  }
  return type;
}

/** In a terminal: one self-overwriting stderr line with bytes, rate and the database size, at most 4 times a second. */
export function progressPrinter(out: Output, database: string): ((progress: BackupProgress) => void) | undefined {
  if (!out.interactive || out.json) return undefined;
  let last = 0;
  return ({ bytes, elapsedMs, databaseSizeBytes }) => {
    if (elapsedMs - last < 250) return;
    last = elapsedMs;
    const rate = elapsedMs > 0 ? (bytes / elapsedMs) * 1000 : 0;
    out.stderr(`\r${database}: ${formatBytes(bytes)} written, ${formatBytes(rate)}/s (database ${formatBytes(databaseSizeBytes)} on disk)   `);
  };
}

/**
 * `--force`: shows who holds the lock, asks for the database's name on a terminal (unless
 * `--yes`), then marks the holder FAILED and releases its lock. Nothing is asked when the
 * lock is free. Throws InputError when the operator does not confirm.
 */
async function releaseLockByForce(session: Session, kind: 'logical' | 'base', database: string, flags: BackupFlags, out: Output, confirm: Confirm): Promise<void> {
  const { context, config } = session;
  const staleAfterMs = config.staleAfterSeconds * 1000;
  const holder = await readBackupLock(context, { kind, database, staleAfterMs });
  if (!holder) return;
  if (!flags.yes && confirm) {
    const { description: d } = holder;
    out.stderr(
      `The ${kind} backup lock of "${database}" is held by ${d.backupId} (${d.runner}${d.state ? `, ${d.state}` : ', no catalog entry'}${d.heartbeatAt ? `, last heartbeat ${d.heartbeatAt}` : ''}).\n` +
        `--force marks that backup FAILED and releases its lock; if it still runs, it stops at its next heartbeat.\n`,
    );
    const answer = (await confirm(`Type the database's name ("${database}") to go ahead: `)).trim();
    if (answer !== database) throw new InputError(`backup --force cancelled: "${answer}" is not "${database}"`, 'run it again and type the name exactly, or pass --yes');
  }
  await forceReleaseBackupLock(context, { kind, database, now: context.clock(), staleAfterMs });
  out.stderr(`Released the lock of ${holder.backupId}${holder.entry && !isFinal(holder.entry.state) ? ' (marked FAILED)' : ''}.\n`);
}

/**
 * Runs `strongbox backup`; returns the exit code (1 when the backup ends FAILED). With
 * `--force`, first releases the lock of a backup of the same database and type (confirmed:
 * `--yes`, or the database's name typed on a terminal); throws UsageError (exit 2) when
 * there is neither.
 */
export async function backupCommand(flags: BackupFlags, out: Output, confirm: Confirm = undefined): Promise<number> {
  if (!TIERS.includes(flags.tier as Tier)) throw new UsageError(`--tier ${flags.tier} is not one of ${TIERS.join(', ')}`, 'e.g. --tier pre-migration');
  const type = checkType(flags);
  if (flags.force && !flags.yes && !confirm) {
    throw new UsageError('backup --force marks the running backup FAILED and there is no terminal to confirm on', 'pass --yes to confirm, or run `strongbox list` to see the running backup first');
  }
  return withSession(out, async (session) => {
    const { context, config, env } = session;
    const target = resolveDatabase(
      { name: flags.database, url: flags.databaseUrl, ...(type === 'logical' && flags.compression ? { compression: flags.compression as Compression } : {}) },
      config,
      env,
      context.paths,
    );
    if (flags.force) await releaseLockByForce(session, type, target.name, flags, out, confirm);
    return withInterrupts(async (signal) => {
      const onProgress = progressPrinter(out, target.name);
      const deps = { ...context, processes: localProcesses, version: STRONGBOX_VERSION, heartbeatMs: config.heartbeatSeconds * 1000, staleAfterMs: config.staleAfterSeconds * 1000 };
      const common = { database: target.name, connection: target.connection, tier: flags.tier as Tier, runner: thisProcessRunner(), signal, ...(onProgress ? { onProgress } : {}) };
      const entry =
        type === 'base'
          ? await runBaseBackup({ ...deps, tools: pgBaseBackupTools }, { ...common, compression: (flags.compression ?? 'zstd') as BaseCompression })
          : await runLogicalBackup(
              { ...deps, tools: pgDumpTools },
              {
                ...common,
                ...(flags.table.length ? { tablePatterns: flags.table } : {}),
                compression: target.compression,
                includeRolePasswords: target.includeRolePasswords,
                // A parallel backup for a big database (docs/backups.md).
                vcpu: availableParallelism(),
                ...(target.dumpJobs !== undefined ? { dumpJobs: target.dumpJobs } : {}),
              },
            );
      if (onProgress) endProgress(out);
      const seconds = (Date.parse(entry.finishedAt ?? entry.startedAt) - Date.parse(entry.startedAt)) / 1000;
      printResult(
        out,
        backupSummary(entry),
        `${entry.state === 'VERIFIED' ? 'Backup' : 'Backup FAILED:'} ${entry.id} of ${entry.database} (${entry.tier}) ${entry.state}` +
          `\n  ${formatBytes(entry.bytes ?? 0)} in ${seconds.toFixed(1)} s → ${context.storage.location}/${entry.key}` +
          (entry.base ? `\n  WAL ${entry.base.startLsn} → ${entry.base.stopLsn} on timeline ${entry.base.stopTimeline} (${entry.base.walSegments.first}…${entry.base.walSegments.last})` : '') +
          (entry.reason ? `\n  reason: ${entry.reason}` : ''),
      );
      return entry.state === 'FAILED' ? 1 : 0;
    });
  });
}

/** Registers `backup` on the program. */
export function registerBackup(program: Command, run: CommandRunner): void {
  program
    .command('backup')
    .description('take a backup now (logical: pg_dump -Fc; base: pg_basebackup of the cluster); returns once it is VERIFIED or FAILED')
    .option('--database <name>', 'a database from strongbox.config.json (or "demo" in local mode)')
    .option('--database-url <url>', 'postgresql://user@host:port/db — no password here: use DATABASE_URL or PGPASSFILE')
    .option('--type <type>', 'logical (pg_dump of one database, default) or base (pg_basebackup of the whole cluster, for point-in-time recovery)')
    .option('--tier <tier>', `one of ${TIERS.join(', ')}`, 'manual')
    .option('--table <pattern>', 'only these tables (pg_dump -t patterns; repeatable)', (value: string, previous: string[]) => [...previous, value], [])
    .option('--compression <kind>', 'logical: gzip (pg_dump\'s own) or zstd (faster); base: zstd (default) or none')
    .option('--force', 'first release the lock of a running backup of the same database and type (marked FAILED): for a backup stuck after a crash')
    .option('--yes', 'with --force: do not ask for the database name (needed without a terminal)')
    .option('--json', 'print one JSON document')
    .addHelpText('after', '\nExamples:\n  strongbox backup --database app --tier pre-migration\n  strongbox backup --database app --type base --tier daily\n  DATABASE_URL=postgresql://me:secret@db/app strongbox backup --table \'"Sales".*\' --json\n  strongbox backup --database app --force --yes   # after a crash left the lock of a dead backup\n')
    .action(async (flags: BackupFlags & { json?: boolean }) => run((out) => backupCommand(flags, out, terminalConfirm()), Boolean(flags.json)));
}
