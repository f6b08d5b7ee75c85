/**
 * Which timeline the live server is on, and which one recoveries and the status follow
 * when the user names none: never a recovered copy's merely because it is newer.
 */
import { describe, expect, it } from 'vitest';
import { defaultTimeline, liveTimeline, listTimelines } from '../../../shared/domain/wal/live-timeline';

const at = (minute: number) => new Date(Date.UTC(2026, 11, 4, 3, minute)).toISOString();

describe('liveTimeline', () => {
  it('takes the newest evidence, whatever its source', () => {
    expect(liveTimeline([])).toBeUndefined();
    expect(
      liveTimeline([
        { timeline: 1, at: at(15), source: 'checkpoint' },
        { timeline: 2, at: at(20), source: 'promotion' },
        { timeline: 1, at: at(5), source: 'base-backup' },
      ]),
    ).toEqual({ timeline: 2, at: at(20), source: 'promotion' });
    // A checkpoint after the promotion read the server again: it is on timeline 1 (the promotion was a mistake, or undone).
    expect(liveTimeline([{ timeline: 2, at: at(20), source: 'promotion' }, { timeline: 1, at: at(30), source: 'checkpoint' }])?.timeline).toBe(1);
  });

  it('ignores evidence it cannot read', () => {
    expect(liveTimeline([{ timeline: 0, at: at(1), source: 'checkpoint' }, { timeline: 3, at: 'yesterday', source: 'checkpoint' }])).toBeUndefined();
  });
});

describe('defaultTimeline', () => {
  it("follows the live server's timeline, not a newer copy's", () => {
    expect(defaultTimeline({ archived: [1, 2], live: { timeline: 1, at: at(1), source: 'checkpoint' } })).toEqual({ timeline: 1, live: { timeline: 1, at: at(1), source: 'checkpoint' } });
  });

  it('follows the newest timeline below the live one while the live one has archived nothing', () => {
    const choice = defaultTimeline({ archived: [1, 2], live: { timeline: 3, at: at(1), source: 'promotion' } });
    expect(choice.timeline).toBe(2);
    expect(choice.warning).toMatch(/live server is on timeline 3, which has no archived WAL yet: following timeline 2/);
  });

  it('without evidence follows the newest archived timeline and says a copy could have taken it', () => {
    expect(defaultTimeline({ archived: [1] })).toEqual({ timeline: 1 });
    const choice = defaultTimeline({ archived: [2, 1] });
    expect(choice.timeline).toBe(2);
    expect(choice.warning).toMatch(/not recorded yet.*--timeline N/);
    expect(defaultTimeline({ archived: [] }).timeline).toBe(1);
  });

  it('lists timelines for messages', () => {
    expect(listTimelines([3, 1, 2])).toBe('1, 2 and 3');
    expect(listTimelines([4])).toBe('4');
  });
});
