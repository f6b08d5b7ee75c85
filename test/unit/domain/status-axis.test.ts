/** The status picture's axis and label placing (svg-axis.ts): table tests, no browser. */
import { describe, expect, it } from 'vitest';
import { axisTicks, MAX_TICKS, placeLabels, textWidth, tickLabel } from '../../../shared/domain/status/svg-axis';

const NOW = Date.parse('2026-06-15T12:00:00.000Z');
const MIN = 60_000;
const DAY = 1440 * MIN;

describe('axisTicks', () => {
  it.each([
    ['5 minutes', 5 * MIN],
    ['1 hour (a fresh install zoomed)', 62 * MIN],
    ['3 hours', 3 * 60 * MIN],
    ['1 day', DAY],
    ['7.5 days (a week of WAL)', 7.5 * DAY],
    ['40 days', 40 * DAY],
    ['1 year', 365 * DAY],
    ['2 years', 730 * DAY],
  ])('%s: between 4 and MAX_TICKS round ticks, inside the span, labels distinct', (_name, span) => {
    const from = NOW - span;
    const ticks = axisTicks(from, NOW);
    expect(ticks.length).toBeGreaterThanOrEqual(4);
    expect(ticks.length).toBeLessThanOrEqual(MAX_TICKS);
    for (const tick of ticks) expect(tick >= from && tick <= NOW).toBe(true);
    const labels = ticks.map((tick) => tickLabel(tick, from, NOW));
    expect(new Set(labels).size).toBe(labels.length);
  });

  it('a year is marked at first days of months', () => {
    for (const tick of axisTicks(NOW - 365 * DAY, NOW)) expect(new Date(tick).toISOString()).toMatch(/-01T00:00:00\.000Z$/);
  });
});

describe('placeLabels', () => {
  it('anchors a label inside at an edge instead of cutting it', () => {
    const [right] = placeLabels([{ x: 1078, text: 'to 06-15 11:58', anchor: 'middle', priority: 0 }], 152, 1098);
    expect(right).toMatchObject({ anchor: 'end' });
    expect(right!.right).toBeLessThanOrEqual(1098);
    const [left] = placeLabels([{ x: 152, text: 'from 06-09 02:08', anchor: 'end', priority: 0 }], 152, 1098);
    expect(left).toMatchObject({ anchor: 'start', left: 152 });
  });

  it('moves a colliding label to the next row, and leaves it out when no row has room; priority wins', () => {
    const requests = [
      { x: 500, text: 'low', anchor: 'middle' as const, priority: 1 },
      { x: 505, text: 'first', anchor: 'middle' as const, priority: 0 },
      { x: 510, text: 'second', anchor: 'middle' as const, priority: 0 },
    ];
    expect(placeLabels(requests, 0, 1000, 2).map((label) => [label.text, label.row])).toEqual([
      ['first', 0],
      ['second', 1],
    ]);
    expect(placeLabels(requests, 0, 1000, 3).map((label) => label.text)).toEqual(['first', 'second', 'low']);
  });

  it('keeps labels on one row apart', () => {
    const placed = placeLabels(
      Array.from({ length: 20 }, (_, index) => ({ x: 160 + index * 47, text: 'before-migration', anchor: 'middle' as const, priority: 0 })),
      152,
      1098,
    );
    expect(placed.length).toBeGreaterThan(3);
    const sorted = [...placed].sort((a, b) => a.left - b.left);
    for (let index = 1; index < sorted.length; index += 1) expect(sorted[index]!.left).toBeGreaterThan(sorted[index - 1]!.right);
    expect(textWidth('before-migration')).toBeGreaterThan(90);
  });
});
