import { describe, expect, it } from 'vitest';
import { planPitr, type ArchiveView, type BaseCandidate } from '../../shared/domain/wal/pitr-plan';
import { timelinePath } from '../../shared/domain/wal/history';
import { parseLsn, segmentName } from '../../shared/domain/wal/names';

const MB16 = 16n * 1024n * 1024n;
const lsnOf = (segno: bigint, offset = 0x28n) => segno * MB16 + offset;

function base(id: string, segno: bigint, finishedAt: string, walIncluded = true): BaseCandidate {
  return { id, startLsn: lsnOf(segno), stopLsn: lsnOf(segno, 0x100n), timeline: 1, finishedAt, walIncluded };
}

/** Segments `from..to` on timeline 1, archived one minute apart from 10:00. */
function archive(from: number, to: number, except: number[] = []): ArchiveView {
  const archived = new Map<string, string>();
  for (let segno = from; segno <= to; segno++) {
    if (except.includes(segno)) continue;
    archived.set(segmentName(1, BigInt(segno)), new Date(Date.UTC(2026, 10, 24, 10, segno)).toISOString());
  }
  return { path: timelinePath(1, []), archived };
}

const BASES = [base('b-old', 2n, '2026-11-24T10:02:30Z'), base('b-new', 6n, '2026-11-24T10:06:30Z')];

describe('planPitr', () => {
  it('chooses the newest base backup that ends before a time target and proves the WAL up to it', () => {
    const plan = planPitr({ target: { type: 'time', at: new Date('2026-11-24T10:08:10Z'), assumedUtc: false }, bases: BASES, archive: archive(2, 12) });

    expect(plan.base.id).toBe('b-new');
    expect(plan.wal.first).toBe(segmentName(1, 6n));
    expect(plan.reach.lastSegment).toBe(segmentName(1, 12n));
  });

  it('falls back to an older base backup when the target is before the newest one', () => {
    const plan = planPitr({ target: { type: 'time', at: new Date('2026-11-24T10:04:00Z'), assumedUtc: false }, bases: BASES, archive: archive(2, 12) });

    expect(plan.base.id).toBe('b-old');
  });

  it('refuses a target before every base backup', () => {
    expect(() => planPitr({ target: { type: 'time', at: new Date('2026-11-24T09:00:00Z'), assumedUtc: false }, bases: BASES, archive: archive(2, 12) })).toThrow(
      expect.objectContaining({ code: 'PITR_NO_BASE_BACKUP', message: expect.stringContaining('the oldest ends at 2026-11-24T10:02:30Z') }),
    );
    expect(() => planPitr({ target: { type: 'latest' }, bases: [], archive: archive(2, 12) })).toThrow(expect.objectContaining({ code: 'PITR_NO_BASE_BACKUP' }));
  });

  it('names the missing segments of a gap between the base backup and an LSN target', () => {
    const target = { type: 'lsn' as const, lsn: lsnOf(11n) };

    expect(() => planPitr({ target, bases: BASES, archive: archive(2, 12, [8, 9]) })).toThrow(
      expect.objectContaining({ code: 'WAL_GAP', message: expect.stringContaining(`${segmentName(1, 8n)}..${segmentName(1, 9n)} (2 segments)`) }),
    );
  });

  it('accepts a gap after the target', () => {
    const plan = planPitr({ target: { type: 'lsn', lsn: lsnOf(7n) }, bases: BASES, archive: archive(2, 12, [10]) });

    expect(plan.wal).toEqual({ first: segmentName(1, 6n), last: segmentName(1, 7n), count: 2 });
  });

  it('says a target past the archive is not archived yet, rather than a gap', () => {
    expect(() => planPitr({ target: { type: 'lsn', lsn: lsnOf(20n) }, bases: BASES, archive: archive(2, 12) })).toThrow(expect.objectContaining({ code: 'PITR_TARGET_NOT_ARCHIVED' }));
    expect(() => planPitr({ target: { type: 'time', at: new Date('2026-11-24T11:00:00Z'), assumedUtc: false }, bases: BASES, archive: archive(2, 12) })).toThrow(expect.objectContaining({ code: 'PITR_TARGET_NOT_ARCHIVED' }));
  });

  it('reports a gap for a time target when newer WAL exists beyond the hole', () => {
    expect(() => planPitr({ target: { type: 'time', at: new Date('2026-11-24T10:11:00Z'), assumedUtc: false }, bases: BASES, archive: archive(2, 12, [9]) })).toThrow(
      expect.objectContaining({ code: 'WAL_GAP', message: expect.stringContaining(segmentName(1, 9n)) }),
    );
  });

  it('runs --latest to the end of the continuous archive and warns about unreachable WAL', () => {
    const plan = planPitr({ target: { type: 'latest' }, bases: BASES, archive: archive(2, 12, [10]) });

    expect(plan.wal.last).toBe(segmentName(1, 9n));
    expect(plan.warnings.join(' ')).toContain(`${segmentName(1, 10n)} is missing`);
  });

  it('refuses --latest when even the WAL for consistency is missing and not inside the backup', () => {
    const bases = [base('b-lone', 6n, '2026-11-24T10:06:30Z', false)];

    expect(() => planPitr({ target: { type: 'latest' }, bases, archive: archive(2, 5) })).toThrow(expect.objectContaining({ code: 'WAL_GAP' }));
  });

  it('follows a timeline switch: segments after the switch point come from the new timeline', () => {
    const path = timelinePath(2, [{ parentTimeline: 1, switchLsn: lsnOf(8n, 0x500n), reason: 'pitr' }]);
    const archived = new Map<string, string>();
    for (let s = 6n; s <= 7n; s++) archived.set(segmentName(1, s), '2026-11-24T10:07:00Z');
    for (let s = 8n; s <= 10n; s++) archived.set(segmentName(2, s), '2026-11-24T10:20:00Z');

    const plan = planPitr({ target: { type: 'latest' }, bases: BASES, archive: { path, archived } });

    expect(plan.timelines).toEqual([1, 2]);
    expect(plan.wal).toEqual({ first: segmentName(1, 6n), last: segmentName(2, 10n), count: 5 });
  });

  it('plans a restore point by its LSN', () => {
    const plan = planPitr({ target: { type: 'name', name: 'before-migration', lsn: parseLsn('0/9000100') }, bases: BASES, archive: archive(2, 12) });

    expect(plan.target).toBe('restore point "before-migration"');
    expect(plan.wal.last).toBe(segmentName(1, 9n));
  });
});
