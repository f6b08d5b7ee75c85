import type { Command } from 'commander';
import type { PgConnection } from '../../ports/postgres';
import type { StrongboxConfig } from '../../config';
import { parseDatabaseUrl } from '../../domain/connection';
import { InputError } from '../../errors';
import { readBaseBackup } from '../../adapters/postgres/recovery';
import { runBaseReadCheck, type BaseReadReport } from '../../usecases/validate/base-read';
import { resolveValidationBackup } from '../../usecases/validate/steps';
import { pgValidationDeps } from '../../runtime/validate-tools';
import { runValidation, type ValidationReport } from '../../usecases/validate';
import { endProgress, printResult, UsageError, type CommandRunner, type Output } from '../output';
import { connectionFromFlag } from '../flag-connection';
import { withInterrupts } from '../interrupts';
import { phaseProgressPrinter } from '../phase-progress';
import { withSession } from '../session';
import { pitrDrillCommand, type PitrDrillFlags } from './validate-pitr';
import { checkLogin } from '../target-check';

interface ValidateFlags {
  database?: string;
  scratchUrl?: string;
  /** With latest: which kind of backup (default logical). */
  type?: string;
}

function baseReportText(report: BaseReadReport): string {
  const scope = '  a read check: the bytes and the tar archive were proved; no server was recovered from it (the physical drill, a recovery to the instant of a logical backup compared with it, is `strongbox validate --pitr`)';
  return report.ok
    ? [`Validated base backup ${report.backupId} of "${report.database}": OK, read in ${report.seconds.toFixed(1)} s`, `  ${report.key}: ${report.bytes} bytes, SHA-256 as its manifest declares, ${report.entries} tar entries`, scope].join('\n')
    : [
        `Validation FAILED: base backup ${report.backupId} of "${report.database}" is ${report.markedFailed || report.code === 'CHECKSUM_MISMATCH' || report.code === 'OBJECT_NOT_FOUND' ? 'damaged' : 'unreadable'}${report.markedFailed ? ' and now FAILED' : ''}`,
        `  reason: ${report.code}: ${report.reason}`,
        `  HINT: ${report.hint}`,
        scope,
      ].join('\n');
}

function reportText(report: ValidationReport): string {
  const { split } = report;
  const times = `scratch server start ${split.scratch.toFixed(1)} s, download ${split.download.toFixed(1)} s, restore ${split.restore.toFixed(1)} s, verify ${split.verify.toFixed(1)} s`;
  const lines = report.ok
    ? [
        `Validated backup ${report.backupId} of "${report.database}": OK, RTO ${report.seconds.toFixed(1)} s (${times})`,
        '  the RTO runs from the scratch server\'s start to the verified restore (the scratch\'s removal is not in it)',
        `  ${report.tables} tables, ${report.rows} rows verified against the manifest, on ${report.scratch} (thrown away)`,
        ...(report.estimated?.length ? [`  ${report.estimated.length} of them over the exact-count size: present, their rows an estimate in the manifest, not compared (${report.estimated.slice(0, 5).join(', ')}${report.estimated.length > 5 ? ', …' : ''})`] : []),
      ]
    : [
        `Validation FAILED: backup ${report.backupId} of "${report.database}", after ${report.seconds.toFixed(1)} s (${times})`,
        `  reason: ${report.reason}`,
        `  HINT: ${report.hint}`,
      ];
  return [...lines, ...report.warnings.map((w) => `WARNING: ${w}`)].join('\n');
}

/** The scratch server of --scratch-url: no password in argv, and never a configured (production) server. */
function scratchConnection(url: string, config: StrongboxConfig, env: NodeJS.ProcessEnv): PgConnection {
  const connection = connectionFromFlag('--scratch-url', url, env);
  const production = [...config.databases.map((d) => d.url), env.DATABASE_URL].filter((u): u is string => Boolean(u));
  for (const known of production) {
    let other: PgConnection;
    try {
      other = parseDatabaseUrl(known);
    } catch {
      continue;
    }
    if (other.host === connection.host && other.port === connection.port) {
      throw new InputError(
        `--scratch-url points at ${connection.host}:${connection.port}, a server Strongbox backs up`,
        'a drill never runs on production: name a separate scratch server, or leave out --scratch-url for a throwaway PostgreSQL on this machine',
      );
    }
  }
  return connection;
}

/**
 * Runs `strongbox validate`: the restore drill of one backup into a throwaway PostgreSQL (or a
 * configured scratch server), printing the report; for a base backup, its read check
 * (validate/base-read.ts). Returns 0 when the backup restored (or read) and matched its
 * manifest, 1 when it did not (the report says why, the catalog and an alert too); throws
 * StrongboxErrors (exit 1) when no backup fits or the drill could not run, UsageError for a
 * bad --type.
 */
export async function validateCommand(backupId: string, flags: ValidateFlags & PitrDrillFlags & { pitr?: boolean }, out: Output): Promise<number> {
  if (flags.pitr) return pitrDrillCommand(backupId, flags, out);
  if (flags.to !== undefined) throw new UsageError('--to is for the physical drill', 'add --pitr, or name the backup as the argument');
  const kind = flags.type ?? 'logical';
  if (kind !== 'logical' && kind !== 'base') throw new UsageError(`--type ${flags.type} is neither logical nor base`, 'e.g. validate latest --type base');
  return withSession(out, async ({ context, config, env }) => {
    const scratch = flags.scratchUrl === undefined ? undefined : scratchConnection(flags.scratchUrl, config, env);
    // A refused login is the operator's to fix, not a failed drill of the backup (no alert).
    if (scratch) await checkLogin('--scratch-url', scratch, 'server', context.paths);
    const backup = await resolveValidationBackup(context.catalog, backupId, flags.database, kind);
    if (backup.kind === 'base') {
      if (scratch) throw new UsageError('--scratch-url is for restore drills of logical backups', `a base backup is checked by reading it: leave out --scratch-url`);
      const report = await runBaseReadCheck({ ...context, readBaseBackup }, backup);
      printResult(out, report, baseReportText(report));
      return report.ok ? 0 : 1;
    }
    return withInterrupts(async (signal) => {
      const onProgress = phaseProgressPrinter(out, `validate ${backupId}`);
      const report = await runValidation(
        { ...context, ...pgValidationDeps },
        { backupId: backup.id, ...(flags.database ? { database: flags.database } : {}), ...(scratch ? { scratch } : {}), signal, ...(onProgress ? { onProgress } : {}) },
      );
      if (onProgress) endProgress(out);
      printResult(out, report, reportText(report));
      return report.ok ? 0 : 1;
    });
  });
}

/** Registers `validate`. */
export function registerValidate(program: Command, run: CommandRunner): void {
  program
    .command('validate')
    .description('restore drill: restore a backup into a throwaway PostgreSQL, check it against its manifest, time it, throw it away (never touches production); a base backup gets a read check')
    .argument('[backup-id|latest]', 'a backup id from `strongbox list`, or latest (newest VERIFIED full backup of --type)', 'latest')
    .option('--type <type>', 'with latest: logical (default; a restore drill) or base (a read check: SHA-256 and tar against the manifest)')
    .option('--database <name>', 'with latest: the newest backup of this database (default: of any database)')
    .option('--scratch-url <url>', 'restore on this scratch server instead (postgresql://user@host:port/db; never production) — no password here: use PGPASSWORD or PGPASSFILE')
    .option('--pitr', 'the physical drill: recover the base backup before a logical backup and the archived WAL to that backup\'s instant, compare every table\'s rows and checksum with it, then pg_amcheck (docs/drills.md)')
    .option('--to <logical-backup-id|latest|random>', 'with --pitr: the logical backup whose instant to recover to (random: one drawn inside the PITR window); default the argument, latest')
    .option('--timeout <seconds>', 'with --pitr: how long the recovery may take (default 21600)')
    .option('--role <name>', 'with --pitr: the recovered cluster\'s superuser role, trusted on its private socket (default postgres)')
    .option('--json', 'print one JSON document')
    .addHelpText(
      'after',
      '\nThe result is recorded as the backup\'s lastValidation (its state does not change); exit 1 and an alert when the backup is bad.\n' +
        'A base backup is read whole through SHA-256, zstd and tar -t and compared with its manifest (no server is recovered from it):\n' +
        'damage makes it FAILED with an alert, exit 1; nothing is recorded as lastValidation.\n' +
        '\nExamples:\n  strongbox validate latest --database app\n  strongbox validate latest --type base --database app\n' +
        '  PGPASSFILE=~/.pgpass strongbox validate 20260102T030000Z-l-1a2b3c --scratch-url postgresql://drill@scratch-db:5432/postgres --json\n' +
        '  strongbox validate --pitr --database app --to random   # the physical drill, recorded as the logical backup\'s lastPitrDrill\n',
    )
    .action(async (backupId: string, flags: ValidateFlags & { json?: boolean }) => run((out) => validateCommand(backupId, flags, out), Boolean(flags.json)));
}
