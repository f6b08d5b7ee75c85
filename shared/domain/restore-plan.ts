/**
 * The plan of a full logical restore: which backup, which databases are created, renamed or
 * dropped, and the steps in order, worded for the operator who reads a `--dry-run`. Pure: the
 * catalog entries and `now` are arguments.
 */
import { createHash } from 'node:crypto';
import { BackupNotFoundError, InputError, StrongboxError } from '../errors';
import type { BackupEntry } from './backup';
import { isBackupId } from './keys';

/** PostgreSQL's identifier limit (NAMEDATALEN - 1), in bytes. */
export const MAX_IDENTIFIER_BYTES = 63;
const SCRATCH_INFIX = '_restoring_';
const KEPT_INFIX = '_before_restore_';
const MAX_JOBS = 64;
const STAMP_LENGTH = 14;
/** Databases a restore may never replace: the templates every CREATE DATABASE copies. */
const PROTECTED_DATABASES = new Set(['template0', 'template1']);

/** What planRestore decides from. */
export interface RestorePlanInput {
  /** Catalog entries: the database's list (newest first) for `latest`, or the one entry asked for. */
  entries: BackupEntry[];
  backupId: string | 'latest';
  /** Strongbox's name of the backed-up database; defaults to the target database's name. */
  database?: string;
  /** The database to replace, and its connection for humans (never with a password). */
  target: { database: string; redacted: string };
  now: Date;
  /** Restore a backup that is not VERIFIED (never a RUNNING one). */
  force: boolean;
  /** Drop the target before restoring into it (no room for two copies). */
  dropFirst: boolean;
  /** pg_restore -j. */
  jobs: number;
  /** The dump streams from storage into pg_restore (one job, one transaction, no local file). */
  streamed?: boolean;
  /** Restore the backup's globals (roles, tablespaces) first. */
  globals?: boolean;
  /** A shell command run once the restored database is in place (e.g. migrations). */
  after?: string;
}

/** A restore decided, not yet applied. */
export interface RestorePlan {
  backup: BackupEntry;
  /** Strongbox's name of the backed-up database. */
  database: string;
  target: { database: string; redacted: string };
  /** Where pg_restore writes: a scratch database, or the target itself with dropFirst. */
  restoreInto: string;
  /** The name the replaced target keeps (absent with dropFirst, or when there is no target). */
  keptAs?: string;
  /** Scratch databases of this target start with it; leftovers of killed runs are dropped. */
  scratchPrefix: string;
  dropFirst: boolean;
  jobs: number;
  /** The dump streams into pg_restore (one transaction) instead of being downloaded first. */
  streamed?: boolean;
  /** The stored globals to apply before the restore (--globals). */
  globals?: { key: string };
  /** The post-restore command (--after). */
  after?: string;
  /** Things the operator must know (a forced restore of an unverified backup). */
  warnings: string[];
  /** The steps in order, as the dry run prints them. */
  steps: string[];
}

/**
 * Chooses the backup and names the databases of a full logical restore.
 *
 * `latest` is the newest VERIFIED full logical backup of `database` (default: the target's
 * name). An explicit id must be a full logical backup of that database and VERIFIED, unless
 * `force` (a RUNNING backup is never restorable: it has no manifest yet).
 *
 * @throws InputError for a malformed id, a bad `jobs`, a protected or too long target name, a
 *   backup of another kind, scope or database, or an unverified backup without `force`;
 *   BackupNotFoundError when the id is not in `entries`; a StrongboxError with code
 *   BACKUP_NOT_FOUND when `latest` finds no VERIFIED full logical backup.
 */
export function planRestore(input: RestorePlanInput): RestorePlan {
  const target = input.target.database;
  assertTarget(target);
  if (!Number.isInteger(input.jobs) || input.jobs < 1 || input.jobs > MAX_JOBS) {
    throw new InputError(`--jobs ${input.jobs} is not a whole number from 1 to ${MAX_JOBS}`, 'pg_restore -j: about the number of CPU cores of the target server, e.g. --jobs 4');
  }
  const named = input.database ?? target;
  const backup = input.backupId === 'latest' ? latestVerified(input.entries, named) : chosen(input, named);
  const database = backup.database;
  const warnings = backup.state === 'VERIFIED' ? [] : [`backup ${backup.id} is ${backup.state}, not VERIFIED: restoring it only because of --force`];
  const globals = input.globals ? globalsOf(backup) : undefined;
  const after = input.after?.trim();
  if (input.after !== undefined && !after) throw new InputError('--after is empty', "give the command to run once the database is restored, e.g. --after 'npx prisma migrate deploy'");
  const stamp = timestamp(input.now);
  const restoreInto = input.dropFirst ? target : derivedName(target, SCRATCH_INFIX, stamp);
  const keptAs = input.dropFirst ? undefined : derivedName(target, KEPT_INFIX, stamp);
  const plan: RestorePlan = {
    backup,
    database,
    target: input.target,
    restoreInto,
    ...(keptAs ? { keptAs } : {}),
    scratchPrefix: derivedName(target, SCRATCH_INFIX, ''),
    dropFirst: input.dropFirst,
    jobs: input.jobs,
    ...(input.streamed ? { streamed: true } : {}),
    ...(globals ? { globals } : {}),
    ...(after ? { after } : {}),
    warnings,
    steps: [],
  };
  plan.steps = describeSteps(plan);
  return plan;
}

/**
 * `<target><infix><stamp>` (stamp: 14 digits, or '' for the prefix), within 63 bytes. A target too long for that is cut at a character
 * boundary and followed by a hash of its full name, so two long names sharing a prefix never
 * share scratch databases.
 */
export function derivedName(target: string, infix: string, stamp: string): string {
  // Decided on a full-length stamp, so that the prefix (stamp '') names the same databases.
  const fixed = Buffer.byteLength(`${infix}${'0'.repeat(STAMP_LENGTH)}`);
  if (Buffer.byteLength(target) + fixed <= MAX_IDENTIFIER_BYTES) return `${target}${infix}${stamp}`;
  const hash = `_${createHash('sha256').update(target).digest('hex').slice(0, 6)}`;
  return `${clipBytes(target, MAX_IDENTIFIER_BYTES - fixed - hash.length)}${hash}${infix}${stamp}`;
}

/** `yyyymmddhhmmss` in UTC. */
export function timestamp(at: Date): string {
  return at.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** True when `name` is one of the scratch databases `plan` names by prefix (a leftover of a killed run). */
export function isScratchOf(plan: Pick<RestorePlan, 'scratchPrefix'>, name: string): boolean {
  return name.startsWith(plan.scratchPrefix) && new RegExp(`^\\d{${STAMP_LENGTH}}$`).test(name.slice(plan.scratchPrefix.length));
}

function assertTarget(target: string): void {
  if (target === '' || Buffer.byteLength(target) > MAX_IDENTIFIER_BYTES) {
    throw new InputError(`the target database name ${JSON.stringify(target)} is empty or longer than ${MAX_IDENTIFIER_BYTES} bytes`, 'name the target database in --target-url (postgresql://USER@HOST:PORT/DATABASE)');
  }
  if (PROTECTED_DATABASES.has(target)) {
    throw new InputError(`the target database ${target} is a template database`, 'restore into an application database, e.g. postgresql://USER@HOST:PORT/app');
  }
}

function latestVerified(entries: BackupEntry[], database: string): BackupEntry {
  const ofDatabase = entries.filter((e) => e.database === database);
  const candidates = ofDatabase
    .filter((e) => e.kind === 'logical' && e.scope === 'full' && e.state === 'VERIFIED' && !e.deleting)
    .sort((a, b) => (a.startedAt === b.startedAt ? compare(b.id, a.id) : compare(b.startedAt, a.startedAt)));
  const newest = candidates[0];
  if (newest) return newest;
  const states = ofDatabase.length ? ` (the catalog has ${ofDatabase.length}: ${summarize(ofDatabase)})` : '';
  throw new StrongboxError(
    'BACKUP_NOT_FOUND',
    `no VERIFIED full logical backup of database "${database}" in the catalog${states}`,
    `take one with \`strongbox backup --database ${database}\`, check the name with \`strongbox list\`, or name a backup id (with --force if it is not VERIFIED)`,
  );
}

function chosen(input: RestorePlanInput, database: string): BackupEntry {
  const id = input.backupId;
  if (!isBackupId(id)) throw new InputError(`${JSON.stringify(id)} is neither a backup id nor "latest"`, 'backup ids look like 20260102T030000Z-l-1a2b3c; `strongbox list` shows them');
  const backup = input.entries.find((e) => e.id === id);
  if (!backup) throw new BackupNotFoundError(id);
  if (input.database !== undefined && backup.database !== database) {
    throw new InputError(`backup ${id} is of database "${backup.database}", not "${database}"`, `drop --database, or pass --database ${backup.database}`);
  }
  if (backup.kind !== 'logical') throw new InputError(`backup ${id} is a base backup, not a logical one`, 'restore a base backup with point-in-time recovery');
  if (backup.scope !== 'full') {
    throw new InputError(`backup ${id} holds only some tables (${backup.tables?.join(', ') ?? 'tables'})`, 'a full restore needs a full backup; restore tables with `strongbox restore-table`');
  }
  if (backup.state === 'RUNNING') throw new InputError(`backup ${id} is still RUNNING`, 'wait until it is VERIFIED (`strongbox list`)');
  if (backup.deleting) {
    throw new InputError(`backup ${id} is being deleted by retention (${backup.deleting.rule})`, 'restore `latest` or another backup from `strongbox list`');
  }
  if (backup.state !== 'VERIFIED' && !input.force) {
    throw new InputError(
      `backup ${id} is ${backup.state}, not VERIFIED${backup.reason ? ` (${backup.reason})` : ''}`,
      'restore `latest` (the newest VERIFIED backup), or pass --force to try this one anyway: its checksum is still checked',
    );
  }
  return backup;
}

function globalsOf(backup: BackupEntry): { key: string } {
  if (!backup.globalsKey) {
    throw new InputError(`backup ${backup.id} has no globals (roles, tablespaces)`, 'restore without --globals; a table-level backup never holds them');
  }
  return { key: backup.globalsKey };
}

function describeSteps(plan: RestorePlan): string[] {
  const { backup, target, restoreInto, jobs } = plan;
  const zstd = backup.compression === 'zstd';
  const steps = [`drop leftover scratch databases of killed runs (${plan.scratchPrefix}<timestamp>) on ${target.redacted}`];
  if (!plan.streamed) {
    steps.push(
      `download ${backup.key} of backup ${backup.id} (${backup.state}, taken ${backup.startedAt}) once to a private temporary file and check its SHA-256 against the manifest${zstd ? ', then decompress it (zstd -d)' : ''}`,
      'check the archive\'s table of contents (pg_restore --list)',
    );
  }
  if (plan.globals) {
    steps.push(`download ${plan.globals.key}, check its SHA-256, and apply it to the server with psql (roles and tablespaces that already exist are kept as they are and reported)`);
  }
  const restoreStep = plan.streamed
    ? `create database "${restoreInto}" and stream ${backup.key} of backup ${backup.id} (${backup.state}, taken ${backup.startedAt}) from storage into it, no local file${zstd ? ' (zstd -d)' : ''}: pg_restore --single-transaction --no-owner --no-acl --exit-on-error, its end held back until size and SHA-256 match the manifest (a mismatch rolls the transaction back)`
    : `create database "${restoreInto}" and restore into it (pg_restore -j ${jobs} --no-owner --no-acl --exit-on-error)`;
  if (plan.dropFirst) {
    steps.push(`DROP the target database "${target.database}" now (--drop-first): it is gone from here on, and a failed restore leaves no "${target.database}" at all`);
    steps.push(restoreStep);
  } else {
    steps.push(`${restoreStep}; "${target.database}" is not touched yet`);
  }
  steps.push(`verify that every table of the manifest exists in "${restoreInto}" with the manifest's row count${plan.dropFirst ? '' : `; on any failure "${restoreInto}" is dropped and "${target.database}" is left as it is`}`);
  if (!plan.dropFirst) {
    steps.push(
      `swap: end the sessions on "${target.database}", rename it to "${plan.keptAs}" (kept for you to drop) and "${restoreInto}" to "${target.database}"` +
        ` (when "${target.database}" does not exist, only the second rename)`,
    );
  }
  if (plan.after) steps.push(`run the post-restore command: ${plan.after} (PGHOST, PGPORT, PGUSER and PGDATABASE name "${target.database}"); its failure is reported, the restored database stays in place`);
  steps.push(`report the tables, rows and the time taken (the measured RTO)${plan.globals ? '' : '; roles and tablespaces (globals) are not restored (--globals does)'}`);
  return steps;
}

/** The longest prefix of `text` within `bytes` UTF-8 bytes, never splitting a character. */
function clipBytes(text: string, bytes: number): string {
  let out = '';
  for (const ch of text) {
    if (Buffer.byteLength(out + ch) > bytes) break;
    out += ch;
  }
  return out;
}

function summarize(entries: BackupEntry[]): string {
  const counts = new Map<string, number>();
  for (const e of entries) {
    const label = `${e.scope === 'full' ? '' : 'table-level '}${e.kind === 'logical' ? '' : 'base '}${e.state}`;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return [...counts].map(([label, n]) => `${n} ${label}`).join(', ');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
