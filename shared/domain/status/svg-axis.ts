/**
 * The time axis of the status picture and the placing of text labels on it, so that the
 * picture reads without hovering: enough ticks at round moments, no label cut at an
 * edge, no two labels on top of each other. Pure.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Fixed steps up to two weeks, then calendar months. Neighbours differ by at most 2.5x. */
const FIXED_STEPS = [MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 4 * DAY, 7 * DAY, 14 * DAY];
const MONTH_STEPS = [1, 2, 3, 6, 12];

/** At most this many ticks: with steps at most 2.5x apart, a view gets at least 4. */
export const MAX_TICKS = 10;

/**
 * Round moments between `from` and `to` (epoch ms): the finest step that gives at most
 * MAX_TICKS (minutes, hours and days from midnight UTC; then first days of months).
 */
export function axisTicks(from: number, to: number): number[] {
  const span = Math.max(to - from, 1);
  const fixed = FIXED_STEPS.find((step) => span / step <= MAX_TICKS);
  if (fixed !== undefined) {
    const out: number[] = [];
    for (let time = Math.ceil(from / fixed) * fixed; time <= to; time += fixed) out.push(time);
    return out;
  }
  const months = MONTH_STEPS.find((step) => span / (step * 30.4 * DAY) <= MAX_TICKS) ?? 24;
  const start = new Date(from);
  const out: number[] = [];
  // Months counted from year 0, rounded up to a multiple of the step (January, April, …).
  for (let index = Math.ceil((start.getUTCFullYear() * 12 + start.getUTCMonth()) / months) * months; ; index += months) {
    const time = Date.UTC(Math.floor(index / 12), index % 12, 1);
    if (time > to) return out;
    if (time >= from) out.push(time);
  }
}

/** A tick's text: the time of day (with the date when the view spans days), or the date. */
export function tickLabel(time: number, from: number, to: number): string {
  const iso = new Date(time).toISOString();
  if (to - from <= 2 * DAY) return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
  if (to - from <= 200 * DAY) return iso.slice(0, 10);
  return iso.slice(0, 7);
}

/** A short moment for a label: `MM-DD HH:MM` (UTC). */
export function shortTime(iso: string): string {
  return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
}

/** About how wide a text of `chars` characters is at the picture's 11-12 px font (a bound, not a measure). */
export function textWidth(text: string, fontPx = 11): number {
  return text.length * fontPx * 0.62 + 2;
}

/** A label to place: at `x`, preferring its anchor; lower `priority` numbers win a collision. */
export interface LabelRequest {
  x: number;
  text: string;
  anchor: 'start' | 'middle' | 'end';
  priority: number;
  className?: string;
}

/** A label placed on row `row` with the anchor it got (moved off an edge when needed). */
export interface PlacedLabel extends LabelRequest {
  row: number;
  left: number;
  right: number;
}

/**
 * Places labels between `minX` and `maxX` on up to `rows` rows: a label that would cross an
 * edge is anchored to stay inside; one that overlaps a placed label goes to the next row,
 * and is dropped (its mark keeps its tooltip) when no row has room. Highest priority first.
 */
export function placeLabels(requests: readonly LabelRequest[], minX: number, maxX: number, rows = 1, gap = 6): PlacedLabel[] {
  const placed: PlacedLabel[] = [];
  const order = [...requests].sort((a, b) => a.priority - b.priority || a.x - b.x);
  for (const request of order) {
    const width = textWidth(request.text);
    let anchor = request.anchor;
    const span = (a: typeof anchor) => (a === 'start' ? [request.x, request.x + width] : a === 'end' ? [request.x - width, request.x] : [request.x - width / 2, request.x + width / 2]) as [number, number];
    let [left, right] = span(anchor);
    if (left < minX) [anchor, [left, right]] = ['start', span('start')];
    if (right > maxX) [anchor, [left, right]] = ['end', span('end')];
    if (left < minX || right > maxX) continue;
    for (let row = 0; row < rows; row += 1) {
      const clash = placed.some((other) => other.row === row && left < other.right + gap && right + gap > other.left);
      if (clash) continue;
      placed.push({ ...request, anchor, row, left, right });
      break;
    }
  }
  return placed;
}
