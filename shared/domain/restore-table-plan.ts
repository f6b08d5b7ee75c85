/**
 * The plan of a single-table restore (`strongbox restore-table`): which backup, which of its
 * tables the pattern selects, the scratch database's name and where the rows go, worded for
 * the operator who reads a `--dry-run`. Pure: catalog entries, manifest tables, `now` and the
 * scratch name's random part are arguments.
 */
import { BackupNotFoundError, InputError, StrongboxError } from '../errors';
import type { TableCount, TableRef } from '../ports/postgres';
import type { BackupEntry } from './backup';
import { isBackupId } from './keys';
import { derivedName, MAX_IDENTIFIER_BYTES, timestamp } from './restore-plan';
import { matchManifestTables } from './restore-table-match';
import { quoteTable } from './table-pattern';
import { asOfSteps, type AsOfSource, type AsOfSpace } from './restore-table-asof';

/** How the backup's rows reach the target table. */
export const RESTORE_TABLE_MODES = ['replace', 'append', 'side-by-side', 'recreate'] as const;
export type RestoreTableMode = (typeof RESTORE_TABLE_MODES)[number];

/** What each mode does, in one line (for refusals of a bad mode). */
export const MODES_HINT = 'replace swaps the rows, append adds them, side-by-side creates <table>_restored_<ts> to compare, recreate brings back a dropped table with its constraints, indexes, views and foreign keys';

/** What side-by-side's table lacks: it is a copy to compare, not the table. */
export const SIDE_BY_SIDE_LEAVES_OUT = 'columns and rows only: no primary key, NOT NULL, defaults, identity, unique constraints, indexes, triggers, views or foreign keys (--mode recreate brings a dropped table back with them)';

/** Backups are taken with pg_dump --no-owner --no-acl: a recreated table cannot get back what the dump does not hold. */
export const RECREATE_NO_GRANTS = 'the backups hold no owners or grants (pg_dump --no-owner --no-acl): the recreated tables and views belong to the restoring user and have no GRANTs; grant again what the applications need';

/** Every scratch database of a table restore starts with it, on any target database of the server. */
export const SCRATCH_PREFIX = 'strongbox_scratch_';
const SCRATCH_NAME = /^strongbox_scratch_(\d{14})_([a-z0-9]{1,16})$/;
const RESTORED_INFIX = '_restored_';
const PROTECTED_DATABASES = new Set(['template0', 'template1']);

/** What chooseTableBackup decides from. */
export interface TableBackupChoice {
  /** Catalog entries: the database's list for `latest`, or the one entry asked for. */
  entries: BackupEntry[];
  backupId: string | 'latest';
  /** Strongbox's name of the backed-up database. */
  database: string;
  /** Restore from a backup that is not VERIFIED (never a RUNNING one). */
  force: boolean;
}

/**
 * The backup a table restore reads: `latest` is the newest VERIFIED full logical backup of
 * `database`; an explicit id may also be a table-level logical backup, and must be VERIFIED
 * unless `force`.
 *
 * @throws InputError for a malformed id, a base backup, a backup of another database, a RUNNING
 *   or deleting one, or an unverified one without `force`; BackupNotFoundError when the id is not
 *   in `entries`; StrongboxError BACKUP_NOT_FOUND when `latest` finds nothing.
 */
export function chooseTableBackup(input: TableBackupChoice): BackupEntry {
  if (input.backupId === 'latest') {
    const newest = input.entries
      .filter((e) => e.database === input.database && e.kind === 'logical' && e.scope === 'full' && e.state === 'VERIFIED' && !e.deleting)
      .sort((a, b) => (a.startedAt === b.startedAt ? compare(b.id, a.id) : compare(b.startedAt, a.startedAt)))[0];
    if (newest) return newest;
    throw new StrongboxError(
      'BACKUP_NOT_FOUND',
      `no VERIFIED full logical backup of database "${input.database}" in the catalog`,
      `check the name with \`strongbox list\` (--database NAME when it differs from the target's), or name a backup id`,
    );
  }
  const id = input.backupId;
  if (!isBackupId(id)) throw new InputError(`${JSON.stringify(id)} is neither a backup id nor "latest"`, 'backup ids look like 20260102T030000Z-l-1a2b3c; `strongbox list` shows them');
  const backup = input.entries.find((e) => e.id === id);
  if (!backup) throw new BackupNotFoundError(id);
  if (backup.database !== input.database) throw new InputError(`backup ${id} is of database "${backup.database}", not "${input.database}"`, `pass --database ${backup.database}`);
  if (backup.kind !== 'logical') throw new InputError(`backup ${id} is a base backup, not a logical one`, 'restore tables from a logical backup (`strongbox list`)');
  if (backup.state === 'RUNNING') throw new InputError(`backup ${id} is still RUNNING`, 'wait until it is VERIFIED (`strongbox list`)');
  if (backup.deleting) throw new InputError(`backup ${id} is being deleted by retention (${backup.deleting.rule})`, 'restore from `latest` or another backup from `strongbox list`');
  if (backup.state !== 'VERIFIED' && !input.force) {
    throw new InputError(
      `backup ${id} is ${backup.state}, not VERIFIED${backup.reason ? ` (${backup.reason})` : ''}`,
      'restore from `latest` (the newest VERIFIED backup), or pass --force to try this one anyway: its checksum is still checked',
    );
  }
  return backup;
}

/** What planRestoreTable decides from. */
export interface RestoreTablePlanInput {
  backup: BackupEntry;
  /** The tables of the backup's manifest, with their row counts. */
  manifestTables: TableCount[];
  /** The database the backup was taken of, inside PostgreSQL (a `db.schema.table` pattern may name it). */
  pgDatabase: string;
  /** pg_dump-style pattern: `[schema.]table`, `*` and `?` wildcards, double quotes keep case. */
  pattern: string;
  mode: RestoreTableMode;
  /** The database the rows go to, and its connection for humans (never with a password). */
  target: { database: string; redacted: string };
  now: Date;
  /** The random part of the scratch database's name: 1 to 16 lower-case letters or digits. */
  nonce: string;
  /** Set for a restore as of a moment: `backup` is then the base backup, and `manifestTables` the recovered cluster's. */
  asOf?: { source: AsOfSource; space: AsOfSpace };
  /** The dry run of a restore as of a moment: the tables are known only once recovered, so none is matched and the steps name the pattern. */
  matchLater?: boolean;
}

/** One table of the plan: where its rows come from and where they go. */
export interface PlannedTable extends TableCount {
  /** The target table: the same name, or `<name>_restored_<ts>` with side-by-side. */
  into: TableRef;
}

/** A table restore decided, not yet applied. */
export interface RestoreTablePlan {
  backup: BackupEntry;
  /** Strongbox's name of the backed-up database. */
  database: string;
  target: { database: string; redacted: string };
  pattern: string;
  mode: RestoreTableMode;
  tables: PlannedTable[];
  /** The scratch database created on the target's server, always dropped at the end. */
  scratch: string;
  warnings: string[];
  /** The steps in order, as the dry run prints them. */
  steps: string[];
  /** A restore as of a moment: where the tables come from, and the disk the scratch cluster needs. */
  asOf?: { source: AsOfSource; space: AsOfSpace };
}

/**
 * Matches the pattern against the backup's tables and names the scratch database and, with
 * side-by-side, the new tables.
 *
 * @throws InputError for a bad mode, pattern, nonce or target name, or an unqualified pattern
 *   matching tables of several schemas; StrongboxError TABLE_NOT_IN_BACKUP (listing near
 *   matches) when the pattern matches none of the backup's tables.
 */
export function planRestoreTable(input: RestoreTablePlanInput): RestoreTablePlan {
  const { backup, target, mode } = input;
  if (!RESTORE_TABLE_MODES.includes(mode)) throw new InputError(`--mode ${String(mode)} is not one of ${RESTORE_TABLE_MODES.join(', ')}`, MODES_HINT);
  if (target.database === '' || Buffer.byteLength(target.database) > MAX_IDENTIFIER_BYTES || PROTECTED_DATABASES.has(target.database)) {
    throw new InputError(`the target database ${JSON.stringify(target.database)} cannot receive a table restore`, 'name an application database in --target-url (postgresql://USER@HOST:PORT/DATABASE)');
  }
  if (!/^[a-z0-9]{1,16}$/.test(input.nonce)) throw new InputError(`the scratch nonce ${JSON.stringify(input.nonce)} is not 1 to 16 lower-case letters or digits`, 'this is a bug in the caller');
  const stamp = timestamp(input.now);
  const matched = input.matchLater ? [] : matchManifestTables(input.manifestTables, input.pattern, { backupId: backup.id, pgDatabase: input.pgDatabase, database: backup.database });
  const tables = matched.map((t) => ({ ...t, into: mode === 'side-by-side' ? { schema: t.schema, name: derivedName(t.name, RESTORED_INFIX, stamp) } : { schema: t.schema, name: t.name } }));
  const warnings = backup.state === 'VERIFIED' ? [] : [`backup ${backup.id} is ${backup.state}, not VERIFIED: restoring from it only because of --force`];
  if (mode === 'recreate') warnings.push(RECREATE_NO_GRANTS);
  const plan: RestoreTablePlan = {
    backup,
    database: backup.database,
    target,
    pattern: input.pattern,
    mode,
    tables,
    scratch: `${SCRATCH_PREFIX}${stamp}_${input.nonce}`,
    warnings,
    steps: [],
    ...(input.asOf ? { asOf: input.asOf } : {}),
  };
  plan.steps = describeSteps(plan);
  return plan;
}

/**
 * True when `name` is the scratch database of a table restore that started no later than the
 * one named `current` (and is not `current`): a leftover of a killed run, unless its run is
 * still alive (the caller checks that with the scratch database's lock).
 */
export function isLeftoverScratch(name: string, current: string): boolean {
  const found = SCRATCH_NAME.exec(name);
  const mine = SCRATCH_NAME.exec(current);
  if (!found || !mine || name === current) return false;
  return (found[1] as string) <= (mine[1] as string);
}

/** `"schema"."name"`, quoted as SQL quotes it: how messages and reports name a table. */
export function displayTable(t: TableRef): string {
  return quoteTable(t);
}

function describeSteps(plan: RestoreTablePlan): string[] {
  const { backup, target, scratch } = plan;
  const later = plan.tables.length === 0 ? `the tables ${plan.pattern} selects` : undefined;
  const list = later ?? boundedList(plan.tables.map((t) => `${displayTable(t)} (${t.rows} rows)`));
  const into = later ? (plan.mode === 'side-by-side' ? `their copies <table>${RESTORED_INFIX}<timestamp>` : later) : boundedList(plan.tables.map((t) => displayTable(t.into)));
  const steps = [
    `drop leftover scratch databases of killed table restores (${SCRATCH_PREFIX}<timestamp>_<random>, older and not in use) on ${target.redacted}`,
    ...(plan.asOf
      ? asOfSteps(plan.asOf.source, plan.asOf.space)
      : [`download ${backup.key} of backup ${backup.id} (${backup.state}, taken ${backup.startedAt}) once to a private temporary file and check its SHA-256 against the manifest${backup.compression === 'zstd' ? ', then decompress it (zstd -d)' : ''}`]),
    `check that the archive's table of contents (pg_restore --list) holds ${list}`,
    `create the scratch database "${scratch}" and restore only those tables (definition and rows, with the types and schemas they need; no indexes, constraints or other tables) into it`,
    `verify their row counts in "${scratch}" against ${plan.asOf ? 'those counted in the recovered cluster' : 'the manifest'}`,
  ];
  const where = `in database "${target.database}"`;
  if (plan.mode === 'replace') {
    steps.push(
      `in ONE transaction ${where}: lock ${into} against writes, make their rows those of the backup (rows whose primary key is in the backup are updated, missing ones inserted, the others deleted), ` +
        'refuse and roll back if rows of other tables reference rows the backup does not hold, move owned sequences forward past the restored values (never backwards), commit',
    );
  } else if (plan.mode === 'append') {
    steps.push(`in ONE transaction ${where}: lock ${into} against writes, add the backup's rows (a duplicate key or a broken reference rolls everything back), move owned sequences forward, commit`);
  } else if (plan.mode === 'recreate') {
    steps.push(
      `check that ${into} no longer exist ${where}, and read from the archive the SQL of everything it holds for them: definition (columns, NOT NULL, defaults, CHECK), owned and identity sequences, ` +
        'primary key, unique constraints, indexes, triggers, comments, grants, row security, their foreign keys and those of other tables to them, the views on them',
      `in ONE transaction ${where}: run that SQL in the archive's order with the rows copied in from the scratch database; the table's own objects must all succeed (else everything is rolled back), ` +
        'each foreign key, view, trigger or grant that the database no longer fits is skipped and reported with the reason; move sequences past the restored values, check the row counts, commit',
    );
  } else {
    steps.push(`in ONE transaction ${where}: create ${into} with the backup's ${SIDE_BY_SIDE_LEAVES_OUT}, for you to compare; the original tables are not touched`);
  }
  steps.push(`drop "${scratch}" (also when anything fails) and the temporary file; report the rows before and after, and the time taken`);
  return steps;
}

/** At most this many tables are named in a step, a summary or a message; the rest are counted. */
export const TABLES_NAMED = 20;

/** The first TABLES_NAMED names joined, and how many more there are: a text whose size does not grow with the tables. */
export function boundedList(names: readonly string[], limit = TABLES_NAMED): string {
  const shown = names.slice(0, limit).join(', ');
  return names.length > limit ? `${shown} and ${names.length - limit} more` : shown;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
