import { describe, expect, it } from 'vitest';
import { formatHistory, isOnPath, parseHistory, timelineAt, timelinePath, type HistoryEntry } from '../../shared/domain/wal/history';
import { parseLsn } from '../../shared/domain/wal/names';
import { StrongboxError } from '../../shared/errors';

/** What PostgreSQL 15 wrote for timeline 3 after two promotions (reasons as it words them). */
const HISTORY_3 = '1\t0/3000000\tno recovery target specified\n\n2\t0/50000A8\tat restore point "before-migration"\n';

function historyError(run: () => unknown): StrongboxError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(StrongboxError);
    expect((error as StrongboxError).code).toBe('WAL_HISTORY_INVALID');
    expect((error as StrongboxError).hint).toMatch(/history file/);
    return error as StrongboxError;
  }
  return expect.unreachable('expected WAL_HISTORY_INVALID');
}

describe('parseHistory', () => {
  it('reads the lines PostgreSQL writes, oldest first, keeping the reason', () => {
    // Act
    const entries = parseHistory(HISTORY_3, 3);
    // Assess
    expect(entries).toStrictEqual([
      { parentTimeline: 1, switchLsn: 0x3000000n, reason: 'no recovery target specified' },
      { parentTimeline: 2, switchLsn: 0x50000a8n, reason: 'at restore point "before-migration"' },
    ]);
  });

  it('skips comments and blank lines, accepts CRLF, spaces, lower-case hex and a missing reason', () => {
    // Prepare
    const text = '# made by hand\r\n\r\n   1 \t 1/a0 \r\n  # another comment\n4\tF/FFFFFFFF\tx\ty\n';
    // Act
    const entries = parseHistory(text, 7);
    // Assess
    expect(entries).toStrictEqual([
      { parentTimeline: 1, switchLsn: (1n << 32n) | 0xa0n, reason: '' },
      { parentTimeline: 4, switchLsn: 0xf_ffff_ffffn, reason: 'x\ty' },
    ]);
  });

  it('reads an empty file (or only comments) as no ancestors', () => {
    expect(parseHistory('', 1)).toStrictEqual([]);
    expect(parseHistory('# nothing\n\n', 2)).toStrictEqual([]);
  });

  it('round trips through formatHistory', () => {
    // Prepare
    const entries = parseHistory(HISTORY_3, 3);
    // Act
    const again = parseHistory(formatHistory(entries), 3);
    // Assess
    expect(again).toStrictEqual(entries);
    expect(formatHistory(entries)).toBe('1\t0/3000000\tno recovery target specified\n2\t0/50000A8\tat restore point "before-migration"\n');
  });

  it.each([
    ['a line without an LSN', '1\tno recovery target specified\n', 2, /line 1 is not/],
    ['a word for a timeline', 'one\t0/3000000\tx\n', 2, /line 1 is not/],
    ['a bad LSN', '1\t0/3000000/1\tx\n', 2, /line 1 is not/],
    ['an LSN part over 8 digits', '1\t0/123456789\tx\n', 2, /line 1 is not/],
    ['a negative timeline', '-1\t0/3000000\tx\n', 2, /line 1 is not/],
    ['timeline 0', '0\t0/3000000\tx\n', 2, /cannot exist/],
    ['a timeline over 32 bits', '4294967296\t0/3000000\tx\n', 2, /cannot exist/],
    ['timelines going down', '2\t0/3000000\tx\n1\t0/4000000\ty\n', 3, /line 2: timeline 1 follows 2/],
    ['the same timeline twice', '1\t0/3000000\tx\n1\t0/4000000\ty\n', 3, /timelines must increase/],
    ['switch points going back', '1\t0/5000000\tx\n2\t0/4000000\ty\n', 3, /switch point 0\/4000000 is before 0\/5000000/],
    ['a parent that is not older than the file', '1\t0/3000000\tx\n3\t0/4000000\ty\n', 3, /timeline 3 as a parent of 3/],
  ])('refuses %s', (_label, text, timeline, message) => {
    // Act
    const error = historyError(() => parseHistory(text, timeline));
    // Assess
    expect(error.message).toMatch(message);
    expect(error.message).toContain(`history of timeline ${timeline}`);
  });

  it('refuses a history for timeline 0', () => {
    expect(historyError(() => parseHistory('', 0)).message).toMatch(/0 is not a timeline id/);
  });
});

describe('timelinePath', () => {
  it('is the target alone from LSN 0 for timeline 1', () => {
    expect(timelinePath(1, [])).toStrictEqual([{ timeline: 1, beginLsn: 0n }]);
  });

  it('chains every ancestor to the target, each beginning where the one before ends', () => {
    // Act
    const path = timelinePath(3, parseHistory(HISTORY_3, 3));
    // Assess
    expect(path).toStrictEqual([
      { timeline: 1, beginLsn: 0n, endLsn: 0x3000000n },
      { timeline: 2, beginLsn: 0x3000000n, endLsn: 0x50000a8n },
      { timeline: 3, beginLsn: 0x50000a8n },
    ]);
  });

  it('skips an abandoned timeline the target does not descend from', () => {
    // Prepare: timeline 2 was abandoned; 3 was recovered from timeline 1 at an earlier point.
    const entries = parseHistory('1\t0/2800000\tbefore transaction 744\n', 3);
    // Act
    const path = timelinePath(3, entries);
    // Assess
    expect(path.map((stretch) => stretch.timeline)).toStrictEqual([1, 3]);
    expect(path[1]).toStrictEqual({ timeline: 3, beginLsn: 0x2800000n });
  });

  it.each<[string, number, HistoryEntry[]]>([
    ['an ancestor newer than the target', 2, [{ parentTimeline: 2, switchLsn: 1n, reason: '' }]],
    ['ancestors out of order', 5, [{ parentTimeline: 3, switchLsn: 1n, reason: '' }, { parentTimeline: 2, switchLsn: 2n, reason: '' }]],
    ['switch points out of order', 5, [{ parentTimeline: 1, switchLsn: 9n, reason: '' }, { parentTimeline: 2, switchLsn: 2n, reason: '' }]],
  ])('refuses %s', (_label, target, entries) => {
    historyError(() => timelinePath(target, entries));
  });

  it('refuses a target that is not a timeline', () => {
    historyError(() => timelinePath(0, []));
    historyError(() => timelinePath(1.5, []));
  });
});

describe('timelineAt and isOnPath', () => {
  const path = timelinePath(3, parseHistory(HISTORY_3, 3));

  it.each([
    ['0/0', 1],
    ['0/2FFFFFF', 1],
    ['0/3000000', 2],
    ['0/50000A7', 2],
    ['0/50000A8', 3],
    ['FF/0', 3],
  ])('puts %s on timeline %i (a switch point belongs to the new timeline)', (lsn, timeline) => {
    expect(timelineAt(path, parseLsn(lsn))).toBe(timeline);
  });

  it('refuses an empty path', () => {
    historyError(() => timelineAt([], 0n));
  });

  it.each([
    [1, '0/1000000', true],
    [1, '0/3000000', false],
    [2, '0/4000000', true],
    [2, '0/6000000', false],
    [3, '0/50000A8', true],
    [3, '0/40000A8', false],
    [4, '0/1000000', false],
  ])('says whether timeline %i at %s leads to the target: %s', (timeline, lsn, expected) => {
    expect(isOnPath(path, timeline, parseLsn(lsn))).toBe(expected);
  });
});
