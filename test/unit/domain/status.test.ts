/**
 * `strongbox status`, the pure part: restore windows, WAL gaps, last backups, drills and
 * archive lag, from hand-made catalogs with an explicit `now`.
 */
import { describe, expect, it } from 'vitest';
import type { BackupEntry } from '../../../shared/domain/backup';
import { databaseStatus, formatDuration, statusHtml, type StatusInput, type WalView } from '../../../shared/domain/status';
import { timelinePath } from '../../../shared/domain/wal/history';
import { segmentName } from '../../../shared/domain/wal/names';

const NOW = new Date('2026-06-15T12:00:00.000Z');
const HOUR = 3600_000;
const ago = (hours: number) => new Date(NOW.getTime() - hours * HOUR).toISOString();

function logical(id: string, hoursAgo: number, overrides: Partial<BackupEntry> = {}): BackupEntry {
  return {
    id,
    database: 'app',
    kind: 'logical',
    tier: 'daily',
    scope: 'full',
    state: 'VERIFIED',
    key: `logical/daily/app/${id}/dump`,
    manifestKey: `logical/daily/app/${id}/manifest.json`,
    compression: 'gzip',
    startedAt: ago(hoursAgo),
    finishedAt: ago(hoursAgo - 0.1),
    heartbeatAt: ago(hoursAgo - 0.1),
    ...overrides,
  };
}

/** A base backup whose WAL starts in segment `startSegno` and is consistent inside `stopSegno`. */
function base(id: string, hoursAgo: number, startSegno: number, stopSegno: number, overrides: Partial<BackupEntry> = {}): BackupEntry {
  return {
    ...logical(id, hoursAgo),
    kind: 'base',
    compression: 'zstd',
    key: `base/daily/app/${id}/dump.zst`,
    manifestKey: `base/daily/app/${id}/manifest.json`,
    finishedAt: ago(hoursAgo - 0.05),
    base: {
      startLsn: `0/${(startSegno * 0x1000000 + 0x28).toString(16).toUpperCase()}`,
      stopLsn: `0/${(stopSegno * 0x1000000 + 0x100).toString(16).toUpperCase()}`,
      timeline: 1,
      stopTimeline: 1,
      systemId: '7311234567890123456',
      pgVersion: 15,
      walSegments: { first: segmentName(1, BigInt(startSegno)), last: segmentName(1, BigInt(stopSegno)) },
      label: '',
      walIncluded: false,
    },
    ...overrides,
  };
}

/** Segments `segnos` of timeline 1, segment n archived `hoursAgo(n)` ago. */
function walView(segnos: number[], hoursAgo: (segno: number) => number, extra: Partial<WalView> = {}): WalView {
  const segments = segnos.map((segno) => ({ name: segmentName(1, BigInt(segno)), archivedAt: ago(hoursAgo(segno)) }));
  return { path: timelinePath(1, []), segments, segmentSize: 16 * 1024 * 1024, ...(segments.length ? { newest: segments.at(-1)! } : {}), ...extra };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index);
// Segment n was archived (20 - n) hours ago: segment 2 at 18 h ago, segment 19 at 1 h ago.
const hoursFor = (segno: number) => 20 - segno;

function status(input: Partial<StatusInput>) {
  return databaseStatus({ database: 'app', backups: [], ...input }, NOW);
}

describe('logical restore window', () => {
  it.each([
    { name: 'no backup', backups: [], from: undefined, to: undefined, points: 0 },
    { name: 'two VERIFIED dumps', backups: [logical('a', 48), logical('b', 24)], from: ago(48), to: ago(24), points: 2 },
    { name: 'FAILED, RUNNING and marked dumps are no restore source', backups: [logical('a', 48), logical('f', 30, { state: 'FAILED' }), logical('r', 1, { state: 'RUNNING' }), logical('d', 72, { deleting: { at: ago(1), rule: 'PAST_WINDOW' } })], from: ago(48), to: ago(48), points: 1 },
    { name: 'a tables backup is listed but does not widen the window', backups: [logical('a', 48), logical('t', 2, { scope: 'tables', tables: ['public.x'] })], from: ago(48), to: ago(48), points: 2 },
    { name: 'a dump from the future does not move the end', backups: [logical('a', 48), logical('z', -5)], from: ago(48), to: ago(48), points: 2 },
  ])('$name', ({ backups, from, to, points }) => {
    const result = status({ backups });
    expect(result.logical.from).toBe(from);
    expect(result.logical.to).toBe(to);
    expect(result.logical.points).toHaveLength(points);
  });

  it('lists points newest first', () => {
    const result = status({ backups: [logical('a', 48), logical('c', 12), logical('b', 24)] });
    expect(result.logical.points.map((point) => point.backupId)).toEqual(['c', 'b', 'a']);
  });
});

describe('point-in-time window', () => {
  it('runs from the base backup\'s end to the last contiguous segment', () => {
    const result = status({ backups: [base('b1', 18.5, 2, 2)], wal: walView(range(2, 19), hoursFor) });
    expect(result.pitr).toMatchObject({ available: true, from: ago(18.45), to: ago(1), gaps: [], timelines: [1], archivedSegments: 18 });
    expect(result.pitr.ranges).toEqual([{ from: ago(18.45), to: ago(1), baseBackupIds: ['b1'], lastSegment: segmentName(1, 19n) }]);
    expect(result.pitr.firstArchived?.name).toBe(segmentName(1, 2n));
    expect(result.pitr.lastArchived?.archivedAt).toBe(ago(1));
  });

  it('splits at a gap, places it in time, and a later base backup resumes the window', () => {
    const segments = [...range(2, 9), ...range(12, 19)];
    const result = status({ backups: [base('b1', 18.5, 2, 2), base('b2', 7.5, 12, 12)], wal: walView(segments, hoursFor) });
    expect(result.pitr.gaps).toEqual([{ first: segmentName(1, 10n), last: segmentName(1, 11n), count: 2, after: ago(11), before: ago(8) }]);
    expect(result.pitr.ranges).toEqual([
      { from: ago(18.45), to: ago(11), baseBackupIds: ['b1'], lastSegment: segmentName(1, 9n) },
      { from: ago(7.45), to: ago(1), baseBackupIds: ['b2'], lastSegment: segmentName(1, 19n) },
    ]);
    expect(result.pitr).toMatchObject({ from: ago(18.45), to: ago(1) });
    expect(result.warnings.join('\n')).toMatch(/2 WAL segment\(s\) missing in 1 gap/);
  });

  it('merges ranges of base backups that overlap', () => {
    const result = status({ backups: [base('b1', 18.5, 2, 2), base('b2', 9.5, 10, 10)], wal: walView(range(2, 19), hoursFor) });
    expect(result.pitr.ranges).toEqual([{ from: ago(18.45), to: ago(1), baseBackupIds: ['b1', 'b2'], lastSegment: segmentName(1, 19n) }]);
  });

  it('leaves out a base backup whose WAL for consistency is missing, unless the backup includes it', () => {
    const wal = walView(range(5, 19), hoursFor);
    const missing = status({ backups: [base('b1', 18.5, 2, 3)], wal });
    expect(missing.pitr).toMatchObject({ available: false, ranges: [] });
    expect(missing.warnings.join('\n')).toMatch(/b1 needs 000000010000000000000002/);
    const included = status({ backups: [base('b1', 18.5, 2, 3, {})].map((entry) => ({ ...entry, base: { ...entry.base!, walIncluded: true } })), wal });
    expect(included.pitr.ranges).toEqual([{ from: ago(18.45), to: ago(18.45), baseBackupIds: ['b1'] }]);
    expect(included.pitr.gaps).toEqual([{ first: segmentName(1, 2n), last: segmentName(1, 4n), count: 3, before: ago(15) }]);
  });

  it.each([
    { name: 'no WAL and no base backup', input: {}, reason: /no WAL is archived and there is no VERIFIED base backup/ },
    { name: 'base backups but no WAL', input: { backups: [base('b1', 10, 2, 2)] }, reason: /base backups restore only to their own end/ },
    { name: 'WAL but no base backup', input: { wal: walView(range(2, 5), hoursFor) }, reason: /no VERIFIED base backup/ },
    { name: 'only a FAILED base backup', input: { backups: [base('b1', 10, 2, 2, { state: 'FAILED' })], wal: walView(range(2, 5), hoursFor) }, reason: /no VERIFIED base backup/ },
  ])('is unavailable with $name', ({ input, reason }) => {
    const result = status(input);
    expect(result.pitr.available).toBe(false);
    expect(result.pitr.reason).toMatch(reason);
  });

  it('follows a timeline switch and leaves out a base backup off the path', () => {
    // Timeline 2 began at 0/8000000 (segment 8): segments from 8 on are read from it.
    const path = timelinePath(2, [{ parentTimeline: 1, switchLsn: 0x8000000n, reason: 'promoted' }]);
    const segments = [...range(2, 7).map((segno) => ({ name: segmentName(1, BigInt(segno)), archivedAt: ago(hoursFor(segno)) })), ...range(8, 12).map((segno) => ({ name: segmentName(2, BigInt(segno)), archivedAt: ago(hoursFor(segno)) }))];
    const offPath = base('b9', 3, 10, 10, {});
    offPath.base = { ...offPath.base!, timeline: 3 };
    const result = status({ backups: [base('b1', 18.5, 2, 2), offPath], wal: { path, segments, segmentSize: 16 * 1024 * 1024 } });
    expect(result.pitr).toMatchObject({ available: true, timelines: [1, 2], to: ago(8), gaps: [] });
    expect(result.pitr.ranges[0]!.lastSegment).toBe(segmentName(2, 12n));
    expect(result.warnings.join('\n')).toMatch(/b9 \(timeline 3\) is not on the way to timeline 2/);
  });
});

describe('status right after the first base backup, and with several timelines', () => {
  it('does not fail when the base backup starts inside the newest archived segment (the window is just its end)', () => {
    // Base backup b1 starts at 0/2000028; segment 2 (which holds it) is the newest archived.
    const result = status({ backups: [base('b1', 2, 2, 2)], wal: walView([1, 2], hoursFor) });
    expect(result.pitr).toMatchObject({ available: true, gaps: [], archivedSegments: 1 });
  });

  it('lists every timeline, marks the live one and gives the flag to follow each', () => {
    const path = timelinePath(1, []);
    const segments = range(2, 9).map((segno) => ({ name: segmentName(1, BigInt(segno)), archivedAt: ago(hoursFor(segno)) }));
    const wal: WalView = {
      path,
      segments,
      segmentSize: 16 * 1024 * 1024,
      followed: 1,
      live: { timeline: 1, at: ago(1), source: 'checkpoint' },
      timelines: [
        { timeline: 1, highestName: segmentName(1, 9n) },
        { timeline: 2, highestName: segmentName(2, 6n), parent: 1, branchLsn: '0/5000000' },
      ],
    };
    const result = status({ backups: [base('b1', 18.5, 2, 2)], wal });
    expect(result.liveTimeline).toEqual({ timeline: 1, at: ago(1), source: 'checkpoint' });
    expect(result.timelines).toEqual([
      { timeline: 1, highestName: segmentName(1, 9n), live: true, followed: true, flag: '--timeline 1' },
      { timeline: 2, highestName: segmentName(2, 6n), parent: 1, branchLsn: '0/5000000', live: false, followed: false, flag: '--timeline 2' },
    ]);
    expect(result.pitr.timelines).toEqual([1]);
  });
});

describe('last backups, drills and archive lag', () => {
  it('gives the newest backup of each kind and tier, and the last VERIFIED when the newest is not', () => {
    const result = status({
      backups: [
        logical('d1', 50),
        logical('d2', 26, { state: 'FAILED' }),
        logical('w1', 100, { tier: 'weekly' }),
        base('b1', 20, 2, 2),
      ],
    });
    expect(result.tiers).toEqual([
      { kind: 'logical', tier: 'daily', backupId: 'd2', state: 'FAILED', startedAt: ago(26), ageSeconds: 26 * 3600, lastVerified: { backupId: 'd1', startedAt: ago(50), ageSeconds: 50 * 3600 } },
      { kind: 'logical', tier: 'weekly', backupId: 'w1', state: 'VERIFIED', startedAt: ago(100), ageSeconds: 100 * 3600 },
      { kind: 'base', tier: 'daily', backupId: 'b1', state: 'VERIFIED', startedAt: ago(20), ageSeconds: 20 * 3600 },
    ]);
  });

  it('reports the newest drill with its RTO, and the last passing one after a failure', () => {
    const result = status({
      backups: [
        logical('a', 50, { lastValidation: { at: ago(40), ok: true, seconds: 42 } }),
        logical('b', 26, { lastValidation: { at: ago(2), ok: false, seconds: 7, reason: 'row counts differ' } }),
        logical('c', 20, { lastValidation: { at: 'not a time', ok: true, seconds: 1 } }),
      ],
    });
    expect(result.lastValidation).toEqual({ backupId: 'b', at: ago(2), ok: false, rtoSeconds: 7, ageSeconds: 7200, reason: 'row counts differ' });
    expect(result.lastGoodValidation).toEqual({ backupId: 'a', at: ago(40), ok: true, rtoSeconds: 42, ageSeconds: 40 * 3600 });
  });

  it('computes the RPO now from the newest archived WAL and keeps the measured lag', () => {
    const result = status({
      wal: walView(range(2, 5), hoursFor),
      archiveStatus: { measuredAt: ago(0.25), lagSeconds: 3, lastArchivedWal: segmentName(1, 4n), lastArchivedAt: ago(16), failedCount: 2, lastFailedWal: segmentName(1, 6n), lastFailedAt: ago(0.5), gap: [segmentName(1, 3n)] },
    });
    expect(result.archive).toEqual({
      measuredLagSeconds: 3,
      measuredAt: ago(0.25),
      lastArchivedWal: segmentName(1, 5n),
      lastArchivedAt: ago(15),
      // No base backup, so no window to tell holes by: PostgreSQL is stuck on 6 after 4, which bounds it.
      durableThroughWal: segmentName(1, 4n),
      durableThroughAt: ago(16),
      behindBecause: expect.stringContaining(`failing on ${segmentName(1, 6n)}`),
      rpoNowSeconds: 16 * 3600,
      failedCount: 2,
      lastFailedWal: segmentName(1, 6n),
      lastFailedAt: ago(0.5),
      // A checkpoint from before ranges stored names: read back as runs with their counts.
      reportedGap: [{ first: segmentName(1, 3n), last: segmentName(1, 3n), count: 1 }],
      reportedGapSegments: 1,
      reportedGapRanges: 1,
    });
    expect(status({}).archive).toEqual({});
  });
});

describe('the RPO now when WAL was archived past a hole (issue 14, item 7)', () => {
  it('is counted from the last segment reachable without a gap, not from the newest archived one', () => {
    // PostgreSQL stuck on 8 (the repository was full); the uploader stored 9..14 ahead of it.
    const segnos = [...range(2, 7), ...range(9, 14)];
    const result = status({
      backups: [base('b1', 18.5, 2, 2)],
      wal: walView(segnos, hoursFor),
      archiveStatus: { measuredAt: ago(0.25), lastArchivedWal: segmentName(1, 7n), lastArchivedAt: ago(hoursFor(7)), failedCount: 40, lastFailedWal: segmentName(1, 8n), lastFailedAt: ago(0.3) },
    });
    expect(result.archive.lastArchivedWal).toBe(segmentName(1, 14n));
    expect(result.archive).toMatchObject({ durableThroughWal: segmentName(1, 7n), durableThroughAt: ago(hoursFor(7)), rpoNowSeconds: hoursFor(7) * 3600 });
    expect(result.archive.behindBecause).toMatch(/after 000000010000000000000007 is missing/);
  });

  it('is the newest archived file when the archive has no hole', () => {
    const result = status({ backups: [base('b1', 18.5, 2, 2)], wal: walView(range(2, 14), hoursFor) });
    expect(result.archive).toMatchObject({ durableThroughWal: segmentName(1, 14n), rpoNowSeconds: hoursFor(14) * 3600 });
    expect(result.archive.behindBecause).toBeUndefined();
  });
});

describe('bad input', () => {
  it('names damaged and future entries instead of throwing', () => {
    const damaged = { ...logical('x', 10), startedAt: undefined } as unknown as BackupEntry;
    const badLsn = base('b1', 10, 2, 2);
    badLsn.base = { ...badLsn.base!, stopLsn: 'garbage' };
    const result = status({ backups: [damaged, badLsn, logical('future', -3)], wal: walView(range(2, 5), hoursFor) });
    expect(result.warnings.join('\n')).toMatch(/catalog entry x lacks a field/);
    expect(result.warnings.join('\n')).toMatch(/base backup b1 has no readable LSNs/);
    expect(result.warnings.join('\n')).toMatch(/1 backup\(s\) started after now \(future\): clock skew/);
    expect(result.tiers.find((tier) => tier.backupId === 'future')?.ageSeconds).toBe(-3 * 3600);
  });

  it('is the same for the same catalog in any order', () => {
    const backups = [logical('a', 48), logical('b', 24), base('b1', 18.5, 2, 2), base('b2', 7.5, 12, 12)];
    const wal = walView([...range(2, 9), ...range(12, 19)], hoursFor);
    const one = status({ backups, wal });
    const other = status({ backups: [...backups].reverse(), wal: { ...wal, segments: [...(wal.segments ?? [])].reverse() } });
    expect(other).toEqual(one);
  });
});

describe('formatting and the page', () => {
  it.each([
    [42, '42 s'],
    [300, '5 min'],
    [3 * 3600 + 20 * 60, '3 h 20 min'],
    [4 * 86_400 + 2 * 3600, '4 d 2 h'],
    [-90, '1 min in the future'],
  ])('formats %i seconds as %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it('renders one self-contained page with marks, the WAL bar and gaps in red', () => {
    const result = status({ database: '<app>', backups: [logical('a', 48), base('b1', 18.5, 2, 2)], wal: walView([...range(2, 9), ...range(12, 19)], hoursFor) });
    const page = statusHtml({ at: NOW.toISOString(), databases: [result] });
    expect(page).toMatch(/^<!DOCTYPE html>/);
    expect(page).toContain('&lt;app&gt;');
    expect(page).not.toContain('<app>');
    expect(page).not.toMatch(/<script|<link|\bsrc=|url\(|@import/i);
    // The only URL is the SVG namespace, which loads nothing.
    expect(page.match(/https?:\/\/[^"]+/g)?.every((url) => url === 'http://www.w3.org/2000/svg')).toBe(true);
    expect(page).toMatch(/fill="#dc2626"[^>]*><title>WAL gap: 00000001000000000000000A\.\.00000001000000000000000B/);
    expect(page).toMatch(/fill="#86efac"[^>]*><title>WAL archived/);
    expect(page).toMatch(/<title>daily full dump a at/);
    expect(page).toMatch(/<title>base backup b1 ended/);
  });
});
