import type { Severity } from '../ports';
import type { BackupEntry, BackupKind, Tier } from './backup';
import { nextFire, tierFor } from './schedule';

/**
 * The dead man's switch: what should have happened by `now` and did not. Every other alert
 * fires when something fails; these fire when nothing happens at all (a schedule deleted,
 * a function that no longer runs, an archiver silently stuck). Pure: `now` is a parameter.
 */

/** What is scheduled for one database (the same expressions as serverless.yml). */
export interface DeadmanSchedule {
  database: string;
  /** EventBridge expression of the logical dump; its firings' tiers come from `tierFor`. */
  logical?: string;
  /** EventBridge expression of the physical base backup. */
  base?: string;
  /** WAL is archived (a checkpoint runs every `checkpointPeriodMs`). */
  walArchiving: boolean;
  /** A monthly restore drill is expected. */
  validation: boolean;
}

/** How much silence is tolerated. */
export interface DeadmanPolicy {
  /** A scheduled backup must be VERIFIED this long after its firing (dump + upload + checksum). */
  backupGraceMs: number;
  /** PostgreSQL's archive_timeout: WAL must have arrived within twice this. */
  archiveTimeoutSeconds: number;
  /** How often the WAL checkpoint runs; its status older than twice this is silence. */
  checkpointPeriodMs: number;
  /** A WAL file the server reports archived must be in the catalog this long after (S3 event → indexing). */
  indexGraceMs: number;
  /** The restore drill's period (monthly: 31 days) and grace. */
  validationPeriodMs: number;
  validationGraceMs: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Defaults: DESIGN.md's "no verified daily backup in 26 h" is the daily period + 2 h. */
export const DEFAULT_DEADMAN_POLICY: DeadmanPolicy = {
  backupGraceMs: 2 * HOUR,
  archiveTimeoutSeconds: 60,
  checkpointPeriodMs: 15 * 60_000,
  indexGraceMs: 5 * 60_000,
  validationPeriodMs: 31 * DAY,
  validationGraceMs: DAY,
};

/** What the catalogs say about one database (a subset of the WAL catalog's ArchiveStatus suffices). */
export interface DeadmanObservation {
  /** The database's backups (logical and base), in any order. */
  backups: readonly BackupEntry[];
  /** The last measured archiver status: `measuredAt` is when the checkpoint last reached the server. */
  archiveStatus?: { measuredAt: string; lastArchivedAt?: string; lastArchivedWal?: string };
  /** When the archive last received a new WAL segment (the WAL catalog's timeline summaries). */
  lastWalArrivalAt?: string;
}

export type DeadmanCheck = 'backup' | 'wal' | 'wal-checkpoint' | 'validation';

/** One silence: what was expected, since when, and what to do. */
export interface DeadmanFinding {
  database: string;
  check: DeadmanCheck;
  /** The stable code of the alert (`DEADMAN_BACKUP`, `DEADMAN_WAL`, …). */
  code: string;
  severity: Severity;
  kind?: BackupKind;
  tier?: Tier;
  /** When the missing thing was due. */
  dueAt: string;
  /** The last time it was seen, if ever. */
  lastSeenAt?: string;
  message: string;
  hint: string;
}

const RANK: Partial<Record<Tier, number>> = { daily: 0, weekly: 1, monthly: 2 };
const SCHEDULED_TIERS = ['daily', 'weekly', 'monthly'] as const;
/** Firings are searched this far back: every tier fires at least once in 33 days. */
const LOOKBACK_MS = 33 * DAY;
/** A scheduled entry is recorded when the rule fires; this much earlier still counts (clock skew). */
const START_TOLERANCE_MS = 5 * 60_000;
/** A schedule firing more often than this is searched only this many times back (every minute for ~14 days). */
const MAX_FIRINGS = 20_000;

/**
 * For each scheduled tier, the last firing that produced it (or a longer tier, which covers
 * it: a monthly dump is also the day's and the week's) in (`from`, `until`].
 */
export function lastDueByTier(expression: string, from: Date, until: Date): Partial<Record<Tier, Date>> {
  const due: Partial<Record<Tier, Date>> = {};
  let at = from;
  for (let i = 0; i < MAX_FIRINGS; i++) {
    const fire = nextFire(expression, at);
    if (fire.getTime() > until.getTime()) break;
    const rank = RANK[tierFor(fire)]!;
    for (const tier of SCHEDULED_TIERS) if (RANK[tier]! <= rank) due[tier] = fire;
    at = fire;
  }
  return due;
}

const iso = (ms: number) => new Date(ms).toISOString();
const newest = (times: Array<string | undefined>): string | undefined =>
  times.filter((t): t is string => t !== undefined).reduce<string | undefined>((a, b) => (a === undefined || Date.parse(b) > Date.parse(a) ? b : a), undefined);

function backupFindings(database: string, kind: BackupKind, expression: string, backups: readonly BackupEntry[], policy: DeadmanPolicy, now: Date): DeadmanFinding[] {
  const until = new Date(now.getTime() - policy.backupGraceMs);
  const dues = lastDueByTier(expression, new Date(until.getTime() - LOOKBACK_MS), until);
  const ours = backups.filter((e) => e.database === database && e.kind === kind);
  const verified = ours.filter((e) => e.scope === 'full' && e.state === 'VERIFIED' && !e.deleting && RANK[e.tier] !== undefined);
  // Nothing is expected from before the first backup of this kind: a database added last
  // week has missed no monthly backup. One never backed up at all is reported once, on its
  // most frequent tier, rather than once per tier.
  const first = ours.map((e) => Date.parse(e.startedAt)).reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY);
  const findings: DeadmanFinding[] = [];
  for (const tier of SCHEDULED_TIERS) {
    const due = dues[tier];
    if (!due) continue;
    if (ours.length === 0 ? findings.length > 0 : due.getTime() < first - START_TOLERANCE_MS) continue;
    const covering = verified.filter((e) => RANK[e.tier]! >= RANK[tier]!);
    const last = newest(covering.map((e) => e.startedAt));
    if (last !== undefined && Date.parse(last) >= due.getTime() - START_TOLERANCE_MS) continue;
    const what = kind === 'logical' ? 'logical backup (pg_dump)' : 'base backup (pg_basebackup)';
    findings.push({
      database,
      check: 'backup',
      code: 'DEADMAN_BACKUP',
      severity: tier === 'daily' ? 'SEV2' : 'SEV3',
      kind,
      tier,
      dueAt: due.toISOString(),
      ...(last ? { lastSeenAt: last } : {}),
      message: `no VERIFIED ${tier} ${what} of ${database} for the firing due at ${due.toISOString()} (${Math.round(policy.backupGraceMs / 60_000)} min grace); the newest ${tier}-or-longer one started ${last ?? 'never'}`,
      hint: `see what happened with \`strongbox list --database ${database}\` and the task logs; take one now with \`strongbox backup --database ${database}${kind === 'base' ? ' --type base' : ''}\``,
    });
  }
  return findings;
}

function walFindings(database: string, observation: DeadmanObservation, policy: DeadmanPolicy, now: Date): DeadmanFinding[] {
  const status = observation.archiveStatus;
  const staleAfter = 2 * policy.checkpointPeriodMs;
  if (!status || now.getTime() - Date.parse(status.measuredAt) > staleAfter) {
    return [
      {
        database,
        check: 'wal-checkpoint',
        code: 'DEADMAN_WAL_CHECKPOINT',
        severity: 'SEV2',
        dueAt: iso((status ? Date.parse(status.measuredAt) : now.getTime() - staleAfter) + staleAfter),
        ...(status ? { lastSeenAt: status.measuredAt } : {}),
        message: `no WAL checkpoint of ${database} has reached its server since ${status?.measuredAt ?? 'ever'}: whether the database is up and its WAL archived is unknown`,
        hint: 'the database may be down or unreachable (see the WAL_CHECKPOINT_FAILED alerts), or the walCheckpoint schedule stopped: `strongbox doctor` checks the chain',
      },
    ];
  }
  // The checkpoint reached the server at measuredAt, so the database was up; it had just made
  // a restore point and switched segments, so a working archiver archived WAL right before.
  const limitMs = 2 * policy.archiveTimeoutSeconds * 1000;
  const measured = Date.parse(status.measuredAt);
  const archived = status.lastArchivedAt === undefined ? undefined : Date.parse(status.lastArchivedAt);
  if (archived === undefined || measured - archived > limitMs) {
    return [
      {
        database,
        check: 'wal',
        code: 'DEADMAN_WAL',
        severity: 'SEV2',
        dueAt: iso((archived ?? measured - limitMs) + limitMs),
        ...(status.lastArchivedAt ? { lastSeenAt: status.lastArchivedAt } : {}),
        message: `${database} was up at ${status.measuredAt} but had archived no WAL since ${status.lastArchivedAt ?? 'ever'} (more than archive_timeout × 2 = ${limitMs / 1000} s)`,
        hint: 'check archive_mode, archive_command and the PostgreSQL log for wal-push errors; WAL piles up in pg_wal until it is archived',
      },
    ];
  }
  // What the server archived must have reached the archive's catalog (after the indexing grace).
  const arrived = observation.lastWalArrivalAt === undefined ? undefined : Date.parse(observation.lastWalArrivalAt);
  if (now.getTime() - archived > policy.indexGraceMs && (arrived === undefined || archived - arrived > limitMs)) {
    return [
      {
        database,
        check: 'wal',
        code: 'DEADMAN_WAL',
        severity: 'SEV2',
        dueAt: iso(archived + policy.indexGraceMs),
        ...(observation.lastWalArrivalAt ? { lastSeenAt: observation.lastWalArrivalAt } : {}),
        message: `${database} reports WAL archived at ${status.lastArchivedAt} (${status.lastArchivedWal ?? '?'}), but the archive's catalog received none since ${observation.lastWalArrivalAt ?? 'ever'}`,
        hint: 'archive_command may point at another endpoint or database name, or WAL records are not indexed (catalogIndex errors): `strongbox doctor` checks the chain',
      },
    ];
  }
  return [];
}

function validationFindings(database: string, backups: readonly BackupEntry[], policy: DeadmanPolicy, now: Date): DeadmanFinding[] {
  const limit = policy.validationPeriodMs + policy.validationGraceMs;
  const ours = backups.filter((e) => e.database === database);
  const last = newest(ours.map((e) => e.lastValidation?.at));
  // Nothing is expected before the database has had backups for a whole period.
  const since = ours.map((e) => Date.parse(e.startedAt)).reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY);
  if (now.getTime() - since <= limit) return [];
  if (last !== undefined && now.getTime() - Date.parse(last) <= limit) return [];
  return [
    {
      database,
      check: 'validation',
      code: 'DEADMAN_VALIDATION',
      severity: 'SEV3',
      dueAt: iso((last !== undefined ? Date.parse(last) : since) + limit),
      ...(last ? { lastSeenAt: last } : {}),
      message: `no restore drill of ${database} has run in ${Math.round(limit / DAY)} days (last: ${last ?? 'never'}): nobody knows whether its backups restore`,
      hint: `run one now with \`strongbox validate latest --database ${database}\`, and check the monthly validation schedule`,
    },
  ];
}

/**
 * Everything `schedule` says should have happened for its database by `now` and the
 * observation does not show:
 * - per scheduled tier (daily, weekly, monthly) and kind, no VERIFIED backup since the last
 *   firing that produced that tier, once `backupGraceMs` has passed (DEADMAN_BACKUP; SEV2
 *   for daily, SEV3 for the longer tiers, which the daily chain still covers). Firings before
 *   the database's first backup of that kind are not expected; a database with none at all
 *   is reported once, on its most frequent tier;
 * - with WAL archiving: no checkpoint status newer than twice its period (DEADMAN_WAL_CHECKPOINT:
 *   the database is down, unreachable, or the checkpoint stopped); the database up at the
 *   last checkpoint but nothing archived within archive_timeout × 2 before it, or archived by
 *   the server yet not received by the archive (DEADMAN_WAL, SEV2);
 * - with validation: no restore drill in 31 days + grace (DEADMAN_VALIDATION, SEV3).
 * Throws InputError (from nextFire) for an expression that is not EventBridge syntax.
 */
export function deadmanFindings(schedule: DeadmanSchedule, observation: DeadmanObservation, now: Date, policy: DeadmanPolicy = DEFAULT_DEADMAN_POLICY): DeadmanFinding[] {
  const { database } = schedule;
  return [
    ...(schedule.logical ? backupFindings(database, 'logical', schedule.logical, observation.backups, policy, now) : []),
    ...(schedule.base ? backupFindings(database, 'base', schedule.base, observation.backups, policy, now) : []),
    ...(schedule.walArchiving ? walFindings(database, observation, policy, now) : []),
    ...(schedule.validation ? validationFindings(database, observation.backups, policy, now) : []),
  ];
}

/**
 * The schedules of `databases` (a config file's entries: name and optional logical schedule)
 * with `defaults` for the rest (local mode; in AWS, deadmanSchedulesOf in shared/domain/deploy-config.ts).
 */
export function schedulesFor(
  databases: ReadonlyArray<{ name: string; schedule?: string | undefined }>,
  defaults: { logical: string; base?: string; walArchiving: boolean; validation: boolean },
): DeadmanSchedule[] {
  return databases.map(({ name, schedule }) => ({
    database: name,
    logical: schedule ?? defaults.logical,
    ...(defaults.base ? { base: defaults.base } : {}),
    walArchiving: defaults.walArchiving,
    validation: defaults.validation,
  }));
}
