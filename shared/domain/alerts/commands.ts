import type { Alert } from '../../ports';

/**
 * The commands an on-call engineer runs for an alert: one to look, one to retry or fix.
 * In AWS they are `sls invoke` / `sls logs` against the stage; locally the Strongbox CLI.
 */

/** Where the alert came from, which decides the commands' form. */
export type CommandTarget = { mode: 'aws'; stage: string } | { mode: 'local' };

/** One suggested command with what it is for. */
export interface SuggestedCommand {
  label: 'investigate' | 'retry' | 'fix';
  command: string;
}

/** Only names a shell reads literally are pasted into commands. */
const SAFE = /^[A-Za-z0-9_.:-]{1,100}$/;

function safe(value: string | undefined): string | undefined {
  return value !== undefined && SAFE.test(value) ? value : undefined;
}

interface Names {
  database?: string;
  backupId?: string;
}

function cli(args: string, names: Names, withDatabase = true): string {
  return `npx strongbox ${args}${withDatabase && names.database ? ` --database ${names.database}` : ''}`;
}

function invoke(stage: string, fn: string, data: Record<string, string>): string {
  return `npx sls invoke --stage ${stage} -f ${fn} --data '${JSON.stringify(data)}'`;
}

function backupRetry(target: CommandTarget, names: Names, type?: 'base'): SuggestedCommand | undefined {
  if (target.mode === 'local') return { label: 'retry', command: cli(`backup${type ? ` --type ${type}` : ''}`, names) };
  if (!names.database) return undefined;
  return { label: 'retry', command: invoke(target.stage, 'scheduleBackup', { database: names.database, ...(type ? { type } : {}) }) };
}

function asFix(command: SuggestedCommand | undefined): SuggestedCommand | undefined {
  return command ? { ...command, label: 'fix' } : undefined;
}

function list(names: Names): SuggestedCommand {
  return { label: 'investigate', command: cli('list', names) };
}

function logs(target: CommandTarget, fn: string): SuggestedCommand[] {
  return target.mode === 'aws' ? [{ label: 'investigate', command: `npx sls logs --stage ${target.stage} -f ${fn} --startTime 2h` }] : [];
}

function taskLogs(target: CommandTarget): SuggestedCommand[] {
  return target.mode === 'aws' ? [{ label: 'investigate', command: `aws logs tail /strongbox/${target.stage}/dump --since 2h` }] : [];
}

function walCommands(target: CommandTarget, names: Names): SuggestedCommand[] {
  const commands: SuggestedCommand[] = [{ label: 'investigate', command: cli('doctor', names) }];
  if (target.mode === 'aws' && names.database) commands.push({ label: 'retry', command: invoke(target.stage, 'walCheckpoint', { database: names.database }) });
  return commands;
}

/**
 * The commands for `alert` (none that would paste an unsafe name into a shell). Unknown
 * types get the catalog listing.
 */
export function commandsFor(alert: Alert, target: CommandTarget): SuggestedCommand[] {
  const names: Names = {};
  const database = safe(alert.database);
  const backupId = safe(alert.backupId);
  if (database) names.database = database;
  if (backupId) names.backupId = backupId;
  const present = (commands: Array<SuggestedCommand | undefined>) => commands.filter((command): command is SuggestedCommand => command !== undefined);
  switch (alert.type) {
    case 'BACKUP_FAILED':
    case 'BACKUP_LAUNCH_FAILED':
    case 'BACKUP_STALLED':
    case 'TASK_FAILED':
      return present([list(names), ...taskLogs(target), backupRetry(target, names)]);
    case 'BACKUP_INCOMPLETE':
    case 'BACKUP_UNVERIFIED':
    case 'CHECKSUM_MISMATCH':
      return present([list(names), ...logs(target, 'checksum'), backupRetry(target, names)]);
    case 'MANIFEST_INVALID':
      return [list(names), ...logs(target, 'checksum')];
    case 'WAL_GAP':
      return present([...walCommands(target, names), asFix(backupRetry(target, names, 'base'))]);
    case 'WAL_CONFLICT':
    case 'WAL_OBJECT_INVALID':
    case 'ARCHIVE_LAG':
    case 'ARCHIVE_LAG_WARNING':
    case 'ARCHIVE_FAILING':
      return [...walCommands(target, names), ...logs(target, 'archiveEndpoint')];
    case 'WAL_CHECKPOINT_FAILED':
      return [...walCommands(target, names), ...logs(target, 'walCheckpoint')];
    case 'VALIDATION_FAILED':
      return [list(names), { label: 'retry', command: `npx strongbox validate ${names.backupId ?? 'latest'}${names.database && !names.backupId ? ` --database ${names.database}` : ''}` }];
    case 'RETENTION_FAILED':
      return [{ label: 'investigate', command: cli('retention plan', names) }, { label: 'retry', command: cli('retention apply', names) }];
    case 'RESTORE_FAILED':
    case 'RESTORE_TABLE_FAILED':
      return [list(names), ...taskLogs(target)];
    case 'DEADMAN_SILENCE':
      return present([list(names), backupRetry(target, names)]);
    default:
      return [list(names)];
  }
}
