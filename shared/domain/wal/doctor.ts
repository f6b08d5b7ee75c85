/**
 * The archiving preflight (`strongbox doctor`): what the probe saw on the server and the
 * host, judged into findings, each with the fix. Pure: the probe gathers, this decides.
 */

export type FindingStatus = 'ok' | 'warn' | 'fail';

export interface Finding {
  check: string;
  status: FindingStatus;
  detail: string;
  /** What to do; empty when nothing is needed. */
  fix: string;
}

/** What the doctor's probe gathered. Absent parts were not reachable (their check fails). */
export interface DoctorFacts {
  database: string;
  /** server_version_num, e.g. 150004. */
  serverVersionNum?: number;
  /** Raw pg_settings values (archive_timeout in seconds). */
  settings?: Partial<Record<'wal_level' | 'archive_mode' | 'archive_command' | 'archive_library' | 'archive_timeout' | 'max_wal_senders', string>>;
  role?: { name: string; superuser: boolean; replication: boolean; canSwitchWal: boolean; canCreateRestorePoint: boolean };
  /** Major versions of the client tools Strongbox runs; undefined when a tool is missing. */
  clients?: Record<string, number | undefined>;
  /** The archive_command / restore_command Strongbox expects for this database. */
  expected?: { archiveCommand: string; restoreCommand: string };
  endpoint?: { url: string; reachable: boolean; detail: string };
  archiver?: { failedCount: number; lastFailedWal?: string; lastFailedAt?: string; lastArchivedAt?: string };
  roundTrip?: { ok: boolean; detail: string; seconds?: number };
  /** Why the database could not be asked at all. */
  connectionError?: string;
}

/** The RPO the runbook promises, in seconds; archive_timeout must stay below it. */
export const RPO_SECONDS = 300;
const RECOMMENDED_TIMEOUT = 60;

/** Judges the facts. The order is the order a person should fix things in. */
export function diagnose(facts: DoctorFacts): Finding[] {
  const findings: Finding[] = [];
  const add = (check: string, status: FindingStatus, detail: string, fix = '') => findings.push({ check, status, detail, fix });
  if (facts.connectionError !== undefined) {
    add('connection', 'fail', facts.connectionError, 'check the database URL / passfile of this database in strongbox.config.json, and that the server is up');
  } else {
    judgeSettings(facts, add);
    judgeRole(facts, add);
  }
  judgeClients(facts, add);
  if (facts.endpoint) {
    add('archive endpoint', facts.endpoint.reachable ? 'ok' : 'fail', `${facts.endpoint.url}: ${facts.endpoint.detail}`, facts.endpoint.reachable ? '' : 'start it (`npm start` in local mode) or check the endpoint URL and the host role / token file');
  }
  if (facts.archiver && facts.archiver.failedCount > 0) {
    const recent = facts.archiver.lastFailedAt !== undefined && (facts.archiver.lastArchivedAt === undefined || facts.archiver.lastFailedAt > facts.archiver.lastArchivedAt);
    add(
      'archiver',
      recent ? 'fail' : 'warn',
      `pg_stat_archiver counts ${facts.archiver.failedCount} failures${facts.archiver.lastFailedWal ? `, last on ${facts.archiver.lastFailedWal} at ${facts.archiver.lastFailedAt}` : ''}${recent ? ', after the last success: archiving is failing now' : ''}`,
      'read the server log for the wal-push error; until it is fixed, pg_wal grows and the RPO is not met',
    );
  }
  if (facts.roundTrip) {
    add('round trip', facts.roundTrip.ok ? 'ok' : 'fail', facts.roundTrip.detail, facts.roundTrip.ok ? '' : 'fix the findings above, then run `strongbox doctor` again');
  }
  return findings;
}

type Add = (check: string, status: FindingStatus, detail: string, fix?: string) => void;

function judgeSettings(facts: DoctorFacts, add: Add): void {
  const s = facts.settings ?? {};
  const restart = ' and restart PostgreSQL';
  if (s.wal_level === 'replica' || s.wal_level === 'logical') add('wal_level', 'ok', `wal_level = ${s.wal_level}`);
  else add('wal_level', 'fail', `wal_level = ${s.wal_level ?? 'unknown'}: WAL cannot rebuild the database`, `ALTER SYSTEM SET wal_level = 'replica'${restart}`);
  if (s.archive_mode === 'on' || s.archive_mode === 'always') add('archive_mode', 'ok', `archive_mode = ${s.archive_mode}`);
  else add('archive_mode', 'fail', `archive_mode = ${s.archive_mode ?? 'unknown'}: nothing is archived`, `ALTER SYSTEM SET archive_mode = 'on'${restart}`);
  const expected = facts.expected?.archiveCommand;
  const command = s.archive_command ?? '';
  if (s.archive_library) {
    add('archive_command', 'fail', `archive_library = ${s.archive_library} is set: archive_command is ignored`, `ALTER SYSTEM RESET archive_library; then SELECT pg_reload_conf()`);
  } else if (!command || command === '(disabled)') {
    add('archive_command', 'fail', 'archive_command is empty: WAL piles up in pg_wal', expected ? `ALTER SYSTEM SET archive_command = '${expected.replace(/'/g, "''")}'; SELECT pg_reload_conf();` : 'set archive_command to Strongbox\'s wal-push');
  } else if (expected !== undefined && command !== expected) {
    add('archive_command', /wal-push/.test(command) ? 'warn' : 'fail', `archive_command = ${command}, not the one for this Strongbox (${expected})`, `ALTER SYSTEM SET archive_command = '${expected.replace(/'/g, "''")}'; SELECT pg_reload_conf();`);
  } else {
    add('archive_command', 'ok', `archive_command = ${command}`);
  }
  const timeout = Number(s.archive_timeout ?? 'NaN');
  if (!Number.isFinite(timeout) || timeout <= 0) {
    add('archive_timeout', 'fail', 'archive_timeout = 0: on a quiet database a segment may stay unarchived for hours (the RPO is unbounded)', `ALTER SYSTEM SET archive_timeout = '${RECOMMENDED_TIMEOUT}s'; SELECT pg_reload_conf();`);
  } else if (timeout > RPO_SECONDS) {
    add('archive_timeout', 'fail', `archive_timeout = ${timeout}s is over the ${RPO_SECONDS}s RPO`, `ALTER SYSTEM SET archive_timeout = '${RECOMMENDED_TIMEOUT}s'; SELECT pg_reload_conf();`);
  } else if (timeout > RECOMMENDED_TIMEOUT) {
    add('archive_timeout', 'warn', `archive_timeout = ${timeout}s: up to ${timeout}s of writes can be lost on a quiet database`, `${RECOMMENDED_TIMEOUT}s keeps the RPO at a minute: ALTER SYSTEM SET archive_timeout = '${RECOMMENDED_TIMEOUT}s'`);
  } else {
    add('archive_timeout', 'ok', `archive_timeout = ${timeout}s (the RPO on a quiet database)`);
  }
  const senders = Number(s.max_wal_senders ?? 'NaN');
  if (Number.isFinite(senders) && senders < 2) add('max_wal_senders', 'fail', `max_wal_senders = ${senders}: pg_basebackup needs a free sender`, `ALTER SYSTEM SET max_wal_senders = 10${restart}`);
}

function judgeRole(facts: DoctorFacts, add: Add): void {
  const role = facts.role;
  if (!role) return;
  if (role.superuser || role.replication) add('privileges: base backup', 'ok', `role ${role.name} may run pg_basebackup`);
  else add('privileges: base backup', 'fail', `role ${role.name} has neither REPLICATION nor SUPERUSER`, `ALTER ROLE ${role.name} REPLICATION; and a \`host replication ${role.name} …\` line in pg_hba.conf`);
  const missing = [!role.canSwitchWal && 'pg_switch_wal()', !role.canCreateRestorePoint && 'pg_create_restore_point(text)'].filter(Boolean) as string[];
  if (missing.length === 0) add('privileges: 15-minute checkpoint', 'ok', `role ${role.name} may switch WAL and create restore points`);
  else add('privileges: 15-minute checkpoint', 'fail', `role ${role.name} may not call ${missing.join(' or ')}`, missing.map((fn) => `GRANT EXECUTE ON FUNCTION ${fn} TO ${role.name};`).join(' '));
}

function judgeClients(facts: DoctorFacts, add: Add): void {
  if (!facts.clients) return;
  const server = facts.serverVersionNum !== undefined ? Math.floor(facts.serverVersionNum / 10000) : undefined;
  for (const [tool, major] of Object.entries(facts.clients)) {
    if (major === undefined) add(`client ${tool}`, 'fail', `${tool} is not installed`, `apt-get install postgresql-client-${server ?? 15}`);
    else if (server !== undefined && major < server) add(`client ${tool}`, 'fail', `${tool} ${major} is older than the server (${server}): it refuses to run`, `apt-get install postgresql-client-${server}`);
    else add(`client ${tool}`, 'ok', `${tool} ${major}${server !== undefined ? ` (server ${server})` : ''}`);
  }
}

/** True when nothing failed (warnings allowed). */
export function healthy(findings: readonly Finding[]): boolean {
  return findings.every((finding) => finding.status !== 'fail');
}
