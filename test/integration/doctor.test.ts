import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgWalServer, readArchiveSettings } from '../../shared/adapters/postgres/wal-server';
import { pgClientMajor, renderFindings } from '../../shared/cli/commands/doctor';
import { archivedPast, runDoctor, type DoctorDeps, type EndpointProbe } from '../../shared/usecases/doctor';
import { startArchivingCluster, type ArchivingCluster } from '../support/archiving-cluster';
import { startTestCluster, type TestCluster } from '../support/pg';
import { captureLog } from '../support/stack';

let good: ArchivingCluster;
let failing: ArchivingCluster;
let off: TestCluster;

beforeAll(async () => {
  [good, failing, off] = await Promise.all([
    startArchivingCluster({ mode: 'copy', settings: { archive_timeout: '60s' } }),
    startArchivingCluster({ mode: 'fail', settings: { archive_timeout: '60s' } }),
    startTestCluster(),
  ]);
  await good.cluster.psql('CREATE ROLE weak LOGIN;');
});

afterAll(async () => {
  await Promise.all([good?.stop(), failing?.stop(), off?.stop()]);
});

function deps(): DoctorDeps & { log: ReturnType<typeof captureLog> } {
  return { server: pgWalServer, clientMajor: pgClientMajor, log: captureLog(), clock: () => new Date() };
}

/** An endpoint that finds what the copy archive_command put in `dir`, as the real one finds what wal-push stored. */
function folderEndpoint(dir: string): EndpointProbe & { probes: string[] } {
  const probes: string[] = [];
  return {
    url: 'http://127.0.0.1:7450',
    probes,
    health: async () => ({ reachable: true, detail: 'v1, bytes mode' }),
    fetchProbe: async (name) => {
      probes.push(name);
      return existsSync(join(dir, name)) ? 'found' : 'missing';
    },
  };
}

const EXPECTED_RESTORE = "'/home/x/.strongbox/wal/app/wal-fetch' %f %p";

describe('runDoctor', () => {
  it('a cluster that does not archive: failed findings, each with its fix, and no round trip tried', async () => {
    // Act
    const report = await runDoctor(deps(), {
      database: 'app',
      connection: off.conn,
      expected: { archiveCommand: "'/home/x/.strongbox/wal/app/wal-push' %p", restoreCommand: EXPECTED_RESTORE },
      endpoint: folderEndpoint('/nonexistent'),
    });

    // Assess
    expect(report.healthy).toBe(false);
    const byCheck = Object.fromEntries(report.findings.map((finding) => [finding.check, finding]));
    expect(byCheck.archive_mode).toMatchObject({ status: 'fail', fix: "ALTER SYSTEM SET archive_mode = 'on' and restart PostgreSQL" });
    expect(byCheck.archive_command).toMatchObject({ status: 'fail' });
    expect(byCheck.archive_command!.fix).toContain("ALTER SYSTEM SET archive_command = '''/home/x/.strongbox/wal/app/wal-push'' %p'");
    expect(byCheck.archive_timeout).toMatchObject({ status: 'fail' });
    expect(byCheck.wal_level).toMatchObject({ status: 'ok' });
    expect(byCheck['client pg_basebackup']).toMatchObject({ status: 'ok' });
    expect(byCheck['round trip']).toMatchObject({ status: 'fail', detail: 'not tried: archive_mode is off' });
    expect(renderFindings(report)).toMatch(/✘ archive_mode\s+archive_mode = off/);
    expect(renderFindings(report)).toContain('NOT healthy');
  });

  it('a configured cluster: a real switch, archived, found at the endpoint → healthy', async () => {
    // Prepare
    const settings = await readArchiveSettings(good.conn);
    const endpoint = folderEndpoint(good.archiveDir);
    const log = captureLog();

    // Act
    const report = await runDoctor(
      { ...deps(), log },
      { database: 'app', connection: good.conn, expected: { archiveCommand: settings.archiveCommand, restoreCommand: EXPECTED_RESTORE }, endpoint, pollMs: 100 },
    );

    // Assess
    expect(report.findings.filter((finding) => finding.status !== 'ok')).toEqual([]);
    expect(report.healthy).toBe(true);
    const trip = report.facts.roundTrip!;
    expect(trip.ok).toBe(true);
    const switched = log.lines.find((line) => line.message === 'doctor switched WAL')!.attributes!.segment as string;
    expect(trip.detail).toContain(`${switched} archived and found at the endpoint`);
    expect(endpoint.probes).toContain(switched);
    expect((await good.archived()).includes(switched)).toBe(true);
    expect(renderFindings(report)).toMatch(/✔ round trip/);
  });

  it('archived by PostgreSQL but unknown to the endpoint: the round trip fails and says why', async () => {
    const settings = await readArchiveSettings(good.conn);
    const elsewhere: EndpointProbe = { ...folderEndpoint(good.archiveDir), fetchProbe: async () => 'missing' };

    const report = await runDoctor(deps(), {
      database: 'app',
      connection: good.conn,
      expected: { archiveCommand: settings.archiveCommand, restoreCommand: EXPECTED_RESTORE },
      endpoint: elsewhere,
      roundTripTimeoutMs: 3_000,
      pollMs: 100,
    });

    expect(report.healthy).toBe(false);
    const trip = report.findings.find((finding) => finding.check === 'round trip')!;
    expect(trip.status).toBe('fail');
    expect(trip.detail).toMatch(/was archived but the endpoint answers missing for it/);
  });

  it('an archive_command that fails: the round trip gives up after the archiver\'s retries, and the archiver finding fails', async () => {
    const report = await runDoctor(deps(), {
      database: 'app',
      connection: failing.conn,
      expected: { archiveCommand: '/bin/false', restoreCommand: EXPECTED_RESTORE },
      roundTripTimeoutMs: 30_000,
      pollMs: 100,
    });

    const trip = report.findings.find((finding) => finding.check === 'round trip')!;
    expect(trip).toMatchObject({ status: 'fail' });
    expect(trip.detail).toMatch(/archive_command failed \d+ times on [0-9A-F]{24}/);
    expect(report.facts.roundTrip!.seconds!).toBeLessThan(30);
    // The archiver finding reflects the state before the round trip: a second run sees the failures.
    const again = await runDoctor(deps(), { database: 'app', connection: failing.conn, roundTripTimeoutMs: 1_000, pollMs: 100 });
    expect(again.findings.find((finding) => finding.check === 'archiver')).toMatchObject({ status: 'fail' });
  });

  it('a role without rights: the privilege findings carry the GRANT, and the round trip is not tried', async () => {
    const settings = await readArchiveSettings(good.conn);
    const report = await runDoctor(deps(), {
      database: 'app',
      connection: { ...good.conn, user: 'weak' },
      expected: { archiveCommand: settings.archiveCommand, restoreCommand: EXPECTED_RESTORE },
    });

    const byCheck = Object.fromEntries(report.findings.map((finding) => [finding.check, finding]));
    expect(byCheck['privileges: base backup']).toMatchObject({ status: 'fail' });
    expect(byCheck['privileges: 15-minute checkpoint']!.fix).toBe(
      'GRANT EXECUTE ON FUNCTION pg_switch_wal() TO weak; GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO weak;',
    );
    expect(byCheck['round trip']).toMatchObject({ status: 'fail', detail: 'not tried: the role may not call pg_switch_wal()' });
  });

  it('an unreachable server is a finding, not an exception', async () => {
    const report = await runDoctor(deps(), { database: 'app', connection: { ...off.conn, port: 1 } });
    expect(report.healthy).toBe(false);
    expect(report.findings[0]).toMatchObject({ check: 'connection', status: 'fail' });
    expect(report.findings[0]!.detail).toMatch(/cannot reach PostgreSQL/);
    expect(report.findings.some((finding) => finding.check === 'round trip')).toBe(false);
  });
});

describe('archivedPast', () => {
  it.each([
    [undefined, false],
    ['000000010000000000000004', true],
    ['000000010000000000000005', true],
    ['000000010000000000000003', false],
    ['00000002.history', false],
    ['000000010000000000000004.00000028.backup', false],
    ['000000010000000000000005.00000028.backup', true],
  ])('last archived %s → segment 4 archived: %s', (last, expected) => {
    expect(archivedPast(last, '000000010000000000000004')).toBe(expected);
  });
});
