import { describe, expect, it } from 'vitest';
import { diagnose, healthy, type DoctorFacts } from '../../shared/domain/wal/doctor';

const EXPECTED = { archiveCommand: "'/srv/.strongbox/wal/app/wal-push' %p", restoreCommand: "'/srv/.strongbox/wal/app/wal-fetch' %f %p" };

function goodFacts(): DoctorFacts {
  return {
    database: 'app',
    serverVersionNum: 150004,
    settings: { wal_level: 'replica', archive_mode: 'on', archive_command: EXPECTED.archiveCommand, archive_library: '', archive_timeout: '60', max_wal_senders: '10' },
    role: { name: 'backup', superuser: false, replication: true, canSwitchWal: true, canCreateRestorePoint: true },
    clients: { pg_dump: 15, pg_basebackup: 15 },
    expected: EXPECTED,
    endpoint: { url: 'http://127.0.0.1:7450', reachable: true, detail: 'bytes mode' },
    archiver: { failedCount: 0 },
    roundTrip: { ok: true, detail: 'segment 000000010000000000000003 archived and fetched back in 0.4 s', seconds: 0.4 },
  };
}

function statusOf(facts: DoctorFacts, check: string) {
  return diagnose(facts).find((finding) => finding.check === check);
}

describe('diagnose', () => {
  it('passes a correctly configured server with every check ok', () => {
    const findings = diagnose(goodFacts());

    expect(findings.map((f) => f.status)).toEqual(findings.map(() => 'ok'));
    expect(findings.map((f) => f.check)).toEqual(expect.arrayContaining(['wal_level', 'archive_mode', 'archive_command', 'archive_timeout', 'privileges: base backup', 'archive endpoint', 'round trip']));
    expect(healthy(findings)).toBe(true);
  });

  it('fails wal_level minimal and archive_mode off, with ALTER SYSTEM fixes that mention the restart', () => {
    const facts = goodFacts();
    facts.settings = { ...facts.settings, wal_level: 'minimal', archive_mode: 'off' };

    expect(statusOf(facts, 'wal_level')).toMatchObject({ status: 'fail', fix: expect.stringMatching(/wal_level = 'replica'.*restart/) });
    expect(statusOf(facts, 'archive_mode')).toMatchObject({ status: 'fail', fix: expect.stringMatching(/archive_mode = 'on'.*restart/) });
    expect(healthy(diagnose(facts))).toBe(false);
  });

  it('gives the exact archive_command to set when it is empty or foreign, quoting single quotes for SQL', () => {
    const facts = goodFacts();
    facts.settings = { ...facts.settings, archive_command: '' };
    expect(statusOf(facts, 'archive_command')).toMatchObject({ status: 'fail', fix: `ALTER SYSTEM SET archive_command = '''/srv/.strongbox/wal/app/wal-push'' %p'; SELECT pg_reload_conf();` });

    facts.settings = { ...facts.settings, archive_command: 'cp %p /mnt/archive/%f' };
    expect(statusOf(facts, 'archive_command')?.status).toBe('fail');

    facts.settings = { ...facts.settings, archive_command: '/old/path/wal-push %p' };
    expect(statusOf(facts, 'archive_command')?.status).toBe('warn');
  });

  it('fails when archive_library overrides archive_command', () => {
    const facts = goodFacts();
    facts.settings = { ...facts.settings, archive_library: 'basic_archive' };

    expect(statusOf(facts, 'archive_command')).toMatchObject({ status: 'fail', detail: expect.stringContaining('archive_library') });
  });

  it.each([
    ['0', 'fail'],
    ['301', 'fail'],
    ['120', 'warn'],
    ['60', 'ok'],
    ['30', 'ok'],
  ])('judges archive_timeout %ss as %s against the RPO', (timeout, status) => {
    const facts = goodFacts();
    facts.settings = { ...facts.settings, archive_timeout: timeout };

    expect(statusOf(facts, 'archive_timeout')?.status).toBe(status);
  });

  it('fails a role without REPLICATION and lists the GRANTs the checkpoint needs', () => {
    const facts = goodFacts();
    facts.role = { name: 'app', superuser: false, replication: false, canSwitchWal: false, canCreateRestorePoint: true };

    expect(statusOf(facts, 'privileges: base backup')).toMatchObject({ status: 'fail', fix: expect.stringContaining('ALTER ROLE app REPLICATION') });
    expect(statusOf(facts, 'privileges: 15-minute checkpoint')).toMatchObject({ status: 'fail', fix: 'GRANT EXECUTE ON FUNCTION pg_switch_wal() TO app;' });
  });

  it('fails client tools older than the server or missing', () => {
    const facts = goodFacts();
    facts.serverVersionNum = 160002;
    facts.clients = { pg_dump: 15, pg_basebackup: undefined };

    expect(statusOf(facts, 'client pg_dump')).toMatchObject({ status: 'fail', fix: 'apt-get install postgresql-client-16' });
    expect(statusOf(facts, 'client pg_basebackup')?.detail).toContain('not installed');
  });

  it('fails archiving that is failing now, and only warns about old failures', () => {
    const facts = goodFacts();
    facts.archiver = { failedCount: 3, lastFailedWal: '000000010000000000000004', lastFailedAt: '2026-11-24T10:00:00Z', lastArchivedAt: '2026-11-24T09:00:00Z' };
    expect(statusOf(facts, 'archiver')?.status).toBe('fail');

    facts.archiver = { ...facts.archiver, lastArchivedAt: '2026-11-24T11:00:00Z' };
    expect(statusOf(facts, 'archiver')?.status).toBe('warn');
  });

  it('reports an unreachable database once, and still judges the host side', () => {
    const facts: DoctorFacts = { database: 'app', connectionError: 'connection refused', clients: { pg_dump: 15 }, endpoint: { url: 'http://127.0.0.1:1', reachable: false, detail: 'ECONNREFUSED' } };

    const findings = diagnose(facts);

    expect(findings.map((f) => [f.check, f.status])).toEqual([
      ['connection', 'fail'],
      ['client pg_dump', 'ok'],
      ['archive endpoint', 'fail'],
    ]);
  });
});
