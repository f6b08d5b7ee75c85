import { setTimeout as sleep } from 'node:timers/promises';
import type { ArchiverStats, WalServer } from '../ports/wal-server';
import type { PgConnection } from '../ports/postgres';
import { diagnose, healthy, type DoctorFacts, type Finding } from '../domain/wal/doctor';
import { asStrongboxError } from '../errors';
import type { Clock, Log } from '../ports';

/** The client tools Strongbox runs against the server; each must be at least its major version. */
export const CLIENT_TOOLS = ['pg_dump', 'pg_restore', 'pg_basebackup'] as const;

/** What the doctor needs of the archive endpoint (the host-side client, or a fake in tests). */
export interface EndpointProbe {
  /** The endpoint's URL, for the finding (never a token). */
  url: string;
  /** `GET /v1/health`. Never throws: unreachable is an answer. */
  health(): Promise<{ reachable: boolean; detail: string }>;
  /** `GET /v1/wal/<database>/<name>`: 'found', 'missing', or what went wrong. Never throws. */
  fetchProbe(name: string): Promise<'found' | 'missing' | string>;
}

export interface DoctorDeps {
  server: WalServer;
  /** The major version of an installed client tool, undefined when it is missing. */
  clientMajor(tool: string): Promise<number | undefined>;
  log: Log;
  clock: Clock;
}

export interface DoctorRequest {
  database: string;
  connection: PgConnection;
  /** The archive_command / restore_command Strongbox expects for this database. */
  expected?: { archiveCommand: string; restoreCommand: string };
  /** Absent: the round trip stops at pg_stat_archiver. */
  endpoint?: EndpointProbe;
  /** How long the round trip may wait for the switched segment (default archive_timeout + 30 s). */
  roundTripTimeoutMs?: number;
  /** Poll interval of the round trip (default 500 ms). */
  pollMs?: number;
}

export interface DoctorReport {
  database: string;
  facts: DoctorFacts;
  findings: Finding[];
  healthy: boolean;
}

/**
 * Probes a database's archiving end to end and judges it (`strongbox doctor`): settings,
 * the role's rights, the client tools, the endpoint, the archiver's failures, and a round
 * trip — a WAL switch, then a wait until pg_stat_archiver has archived that very segment
 * and the endpoint answers `found` for it. Never throws for what it finds: an unreachable
 * server or endpoint is a finding. Throws only on a bug.
 */
export async function runDoctor(deps: DoctorDeps, request: DoctorRequest): Promise<DoctorReport> {
  const { server, log } = deps;
  const conn = request.connection;
  const facts: DoctorFacts = { database: request.database, ...(request.expected ? { expected: request.expected } : {}) };
  let archiveTimeoutSeconds = 0;
  try {
    const settings = await server.readArchiveSettings(conn);
    archiveTimeoutSeconds = settings.archiveTimeoutSeconds;
    facts.serverVersionNum = settings.serverVersionNum;
    facts.settings = {
      wal_level: settings.walLevel,
      archive_mode: settings.archiveMode,
      archive_command: settings.archiveCommand,
      archive_library: settings.archiveLibrary,
      archive_timeout: String(settings.archiveTimeoutSeconds),
      max_wal_senders: String(settings.maxWalSenders),
    };
    facts.role = await server.readRole(conn);
    facts.archiver = archiverFacts(await server.readArchiver(conn));
  } catch (error) {
    facts.connectionError = asStrongboxError(error).message;
  }
  facts.clients = Object.fromEntries(await Promise.all(CLIENT_TOOLS.map(async (tool) => [tool, await deps.clientMajor(tool)] as const)));
  if (request.endpoint) facts.endpoint = { url: request.endpoint.url, ...(await request.endpoint.health()) };
  if (facts.connectionError === undefined) {
    const timeoutMs = request.roundTripTimeoutMs ?? (archiveTimeoutSeconds + 30) * 1000;
    facts.roundTrip = await roundTrip(deps, request, facts, timeoutMs);
  }
  const findings = diagnose(facts);
  log.info('doctor finished', { database: request.database, healthy: healthy(findings), failed: findings.filter((f) => f.status === 'fail').map((f) => f.check) });
  return { database: request.database, facts, findings, healthy: healthy(findings) };
}

function archiverFacts(stats: ArchiverStats): NonNullable<DoctorFacts['archiver']> {
  return {
    failedCount: stats.failedCount,
    ...(stats.lastFailedWal ? { lastFailedWal: stats.lastFailedWal } : {}),
    ...(stats.lastFailedAt ? { lastFailedAt: stats.lastFailedAt } : {}),
    ...(stats.lastArchivedAt ? { lastArchivedAt: stats.lastArchivedAt } : {}),
  };
}

/** Why a round trip cannot succeed before even trying, or undefined. */
function blocker(facts: DoctorFacts): string | undefined {
  const s = facts.settings ?? {};
  if (s.archive_mode !== 'on' && s.archive_mode !== 'always') return 'not tried: archive_mode is off';
  if (!s.archive_command || s.archive_library) return 'not tried: no archive_command is in effect';
  if (facts.role && !facts.role.canSwitchWal) return 'not tried: the role may not call pg_switch_wal()';
  if (facts.endpoint && !facts.endpoint.reachable) return 'not tried: the archive endpoint is unreachable';
  return undefined;
}

const GIVE_UP_FAILURES = 3;

/**
 * True when the archiver's last file shows `segment` archived: it is that segment or a later
 * one (the archiver goes in order). History and backup-label files say nothing about it.
 */
export function archivedPast(lastArchivedWal: string | undefined, segment: string): boolean {
  if (lastArchivedWal === undefined) return false;
  const head = /^[0-9A-F]{24}/.exec(lastArchivedWal)?.[0];
  if (head === undefined) return false;
  return lastArchivedWal === segment || head > segment;
}

async function roundTrip(deps: DoctorDeps, request: DoctorRequest, facts: DoctorFacts, timeoutMs: number): Promise<NonNullable<DoctorFacts['roundTrip']>> {
  const blocked = blocker(facts);
  if (blocked) return { ok: false, detail: blocked };
  const { server, clock } = deps;
  const pollMs = request.pollMs ?? 500;
  const started = clock().getTime();
  const seconds = () => (clock().getTime() - started) / 1000;
  try {
    const failuresBefore = (await server.readArchiver(request.connection)).failedCount;
    const switched = await server.switchWal(request.connection);
    deps.log.info('doctor switched WAL', { database: request.database, segment: switched.segment, lsn: switched.lsn });
    let archived = false;
    let endpointAnswer = '';
    for (;;) {
      if (!archived) {
        const stats = await server.readArchiver(request.connection);
        archived = archivedPast(stats.lastArchivedWal, switched.segment);
        // The archiver pauses after three failed tries in a row: waiting longer proves nothing.
        if (!archived && stats.lastFailedWal === switched.segment && stats.failedCount - failuresBefore >= GIVE_UP_FAILURES) {
          return { ok: false, detail: `archive_command failed ${stats.failedCount - failuresBefore} times on ${switched.segment} (see the server log)`, seconds: seconds() };
        }
      }
      if (archived && !request.endpoint) return { ok: true, detail: `${switched.segment} archived in ${seconds().toFixed(1)} s`, seconds: seconds() };
      if (archived && request.endpoint) {
        endpointAnswer = await request.endpoint.fetchProbe(switched.segment);
        if (endpointAnswer === 'found') {
          return { ok: true, detail: `${switched.segment} archived and found at the endpoint in ${seconds().toFixed(1)} s`, seconds: seconds() };
        }
      }
      if (clock().getTime() - started >= timeoutMs) {
        const what = archived
          ? `${switched.segment} was archived but the endpoint answers ${endpointAnswer} for it: archive_command does not push to this Strongbox`
          : `${switched.segment} was not archived within ${Math.round(timeoutMs / 1000)} s`;
        return { ok: false, detail: what, seconds: seconds() };
      }
      await sleep(pollMs);
    }
  } catch (error) {
    return { ok: false, detail: `failed: ${asStrongboxError(error).message}`, seconds: seconds() };
  }
}
