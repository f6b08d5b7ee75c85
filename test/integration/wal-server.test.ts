import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRestorePoint,
  currentWal,
  readArchiver,
  readArchiveSettings,
  readRole,
  switchWal,
  systemIdentifier,
} from '../../shared/adapters/postgres/wal-server';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSegmentHeader } from '../../shared/domain/wal/header';
import { parseLsn } from '../../shared/domain/wal/names';
import type { StrongboxError } from '../../shared/errors';
import { startArchivingCluster, type ArchivingCluster } from '../support/archiving-cluster';
import { startTestCluster, type TestCluster } from '../support/pg';

let archiving: ArchivingCluster;
let plain: TestCluster;

beforeAll(async () => {
  [archiving, plain] = await Promise.all([
    startArchivingCluster({ mode: 'copy', settings: { archive_timeout: '90s' } }),
    startTestCluster({ settings: { archive_command: 'cp %p /nowhere/%f' } }),
  ]);
  await archiving.cluster.psql(
    "CREATE ROLE weak LOGIN; CREATE ROLE replicator LOGIN REPLICATION; GRANT EXECUTE ON FUNCTION pg_switch_wal() TO replicator; GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO replicator;",
  );
});

afterAll(async () => {
  await Promise.all([archiving?.stop(), plain?.stop()]);
});

async function rejection(promise: Promise<unknown>): Promise<StrongboxError> {
  try {
    await promise;
  } catch (error) {
    return error as StrongboxError;
  }
  throw new Error('expected a rejection');
}

describe('readArchiveSettings', () => {
  it('reads an archiving cluster in seconds and bytes', async () => {
    const settings = await readArchiveSettings(archiving.conn);
    expect(settings).toMatchObject({ walLevel: 'replica', archiveMode: 'on', archiveLibrary: '', archiveTimeoutSeconds: 90, walSegmentSize: 16 * 1024 * 1024 });
    expect(settings.archiveCommand).toContain(archiving.archiveDir);
    expect(settings.maxWalSenders).toBeGreaterThanOrEqual(2);
    expect(Math.floor(settings.serverVersionNum / 10000)).toBeGreaterThanOrEqual(15);
  });

  it('reads a cluster with archive_mode off as not archiving, and still shows its configured command', async () => {
    expect(await readArchiveSettings(plain.conn)).toMatchObject({ archiveMode: 'off', archiveCommand: 'cp %p /nowhere/%f', archiveTimeoutSeconds: 0 });
  });

  it('an unreachable server is DB_UNREACHABLE', async () => {
    const error = await rejection(readArchiveSettings({ ...plain.conn, port: 1 }));
    expect(error.code).toBe('DB_UNREACHABLE');
  });
});

describe('readRole', () => {
  it('tells the superuser, a replication role with grants, and a bare role apart', async () => {
    expect(await readRole(archiving.conn)).toEqual({ name: 'postgres', superuser: true, replication: true, canSwitchWal: true, canCreateRestorePoint: true });
    expect(await readRole({ ...archiving.conn, user: 'replicator' })).toEqual({ name: 'replicator', superuser: false, replication: true, canSwitchWal: true, canCreateRestorePoint: true });
    expect(await readRole({ ...archiving.conn, user: 'weak' })).toEqual({ name: 'weak', superuser: false, replication: false, canSwitchWal: false, canCreateRestorePoint: false });
  });
});

describe('switchWal and readArchiver', () => {
  it('closes a segment even on an idle server, and the archiver reports it archived', async () => {
    // Prepare: one switch so that the server is idle right after it
    const first = await switchWal(archiving.conn);
    await archiving.waitArchived(first.segment);

    // Act: a second switch with nothing written in between must still switch
    const second = await switchWal(archiving.conn);
    await archiving.waitArchived(second.segment);

    // Assess
    expect(second.segment > first.segment).toBe(true);
    expect(second.timeline).toBe(1);
    expect(parseLsn(second.lsn) > parseLsn(first.lsn)).toBe(true);
    // The archiver counts a segment just after its archive_command returned: wait for that.
    let stats = await readArchiver(archiving.conn);
    for (const deadline = Date.now() + 10_000; stats.lastArchivedWal !== second.segment && Date.now() < deadline; stats = await readArchiver(archiving.conn)) {
      await new Promise((done) => setTimeout(done, 50));
    }
    expect(stats.lastArchivedWal).toBe(second.segment);
    expect(stats.archivedCount).toBeGreaterThanOrEqual(2);
    expect(stats.failedCount).toBe(0);
    expect(Date.parse(stats.lastArchivedAt!)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('a role without EXECUTE on pg_switch_wal() gets DB_PERMISSION_DENIED with a hint', async () => {
    const error = await rejection(switchWal({ ...archiving.conn, user: 'weak' }));
    expect(error.code).toBe('DB_PERMISSION_DENIED');
    expect(error.hint).toContain('GRANT EXECUTE');
    expect(error.message).not.toContain('password');
  });

  it('counts failures of a failing archive_command', async () => {
    const failing = await startArchivingCluster({ mode: 'fail' });
    try {
      const switched = await switchWal(failing.conn);
      let stats = await readArchiver(failing.conn);
      for (let i = 0; i < 100 && stats.failedCount === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        stats = await readArchiver(failing.conn);
      }
      expect(stats.failedCount).toBeGreaterThan(0);
      expect(stats.lastFailedWal).toBe(switched.segment);
      expect(stats.lastArchivedWal).toBeUndefined();
    } finally {
      await failing.stop();
    }
  });
});

describe('createRestorePoint, currentWal, systemIdentifier', () => {
  it('creates a restore point at a position on the current timeline', async () => {
    const before = await currentWal(archiving.conn);
    const point = await createRestorePoint(archiving.conn, "before 'migration' 42");
    const after = await currentWal(archiving.conn);
    expect(point.timeline).toBe(1);
    expect(parseLsn(point.lsn) >= parseLsn(before.lsn)).toBe(true);
    expect(parseLsn(point.lsn) <= parseLsn(after.lsn)).toBe(true);
    expect(after.segment.startsWith('00000001')).toBe(true);
  });

  it('names the segment holding the current position', async () => {
    const switched = await switchWal(archiving.conn);
    const now = await currentWal(archiving.conn);
    // Right after a switch the position is in the segment after the one closed.
    expect(BigInt(`0x${now.segment.slice(8)}`) - BigInt(`0x${switched.segment.slice(8)}`)).toBe(1n);
  });

  it('a restore point on a server with wal_level = minimal fails with the server\'s reason', async () => {
    const minimal = await startTestCluster({ settings: { wal_level: 'minimal', max_wal_senders: '0' } });
    try {
      const error = await rejection(createRestorePoint(minimal.conn, 'nope'));
      expect(error.message).toMatch(/WAL level not sufficient/i);
    } finally {
      await minimal.stop();
    }
  });

  it('reads the system identifier that the archived segments carry in their header', async () => {
    const switched = await switchWal(archiving.conn);
    await archiving.waitArchived(switched.segment);
    const header = parseSegmentHeader(await readFile(join(archiving.archiveDir, switched.segment)));

    expect(await systemIdentifier(archiving.conn)).toBe(header.systemId);
  });
});
