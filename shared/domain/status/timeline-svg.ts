import type { Tier } from '../backup';
import { escapeHtml, formatTime } from './format';
import type { DatabaseStatus } from './model';
import { axisTicks, placeLabels, shortTime, tickLabel, type LabelRequest } from './svg-axis';

/**
 * The timeline picture of one database as inline SVG: backups as marks, WAL coverage as a
 * bar with a marker where it ends, gaps in red, the PITR ranges with their ends written
 * out, the named restore points with their names, and "now". What matters is written on
 * the picture, not only in tooltips. Pure: the page embeds it, nothing external.
 */

/** Colours of the picture, also used by the legend. Pre-migration is cyan: red means a gap. */
export const COLOURS = {
  tier: { daily: '#2563eb', weekly: '#7c3aed', monthly: '#b45309', manual: '#64748b', 'pre-migration': '#0891b2' } satisfies Record<Tier, string>,
  base: '#0f766e',
  wal: '#86efac',
  walEnd: '#14532d',
  gap: '#dc2626',
  pitr: '#15803d',
  point: '#9333ea',
  off: '#94a3b8',
  now: '#111827',
  axis: '#6b7280',
} as const;

const WIDTH = 1100;
const LEFT = 150;
const RIGHT = 20;
const TOP = 14;
/** The lanes, top to bottom, with their heights (a lane with written labels is taller). */
const LANES = [
  { name: 'Logical backups', height: 34 },
  { name: 'Base backups', height: 44 },
  { name: 'WAL archive', height: 44 },
  { name: 'PITR window', height: 56 },
  { name: 'Restore points', height: 56 },
] as const;
const ROW = 13;

function laneY(index: number): number {
  return TOP + LANES.slice(0, index).reduce((sum, lane) => sum + lane.height, 0);
}

interface Scale {
  x(iso: string): number;
}

function scale(from: number, to: number): Scale {
  const span = Math.max(to - from, 1);
  return { x: (iso) => LEFT + ((Math.min(Math.max(Date.parse(iso), from), to) - from) / span) * (WIDTH - LEFT - RIGHT) };
}

/** The time span a picture of `status` covers: its oldest mark (or `minDays` back) to now, with a margin. */
export function fullSpan(status: DatabaseStatus, minDays = 7): { from: number; to: number } {
  const now = Date.parse(status.now);
  const times = [
    ...status.logical.points.map((point) => point.at),
    ...status.pitr.baseBackups.map((base) => base.at),
    ...status.pitr.otherBaseBackups.map((base) => base.at),
    ...status.restorePoints.map((point) => point.at),
    ...(status.pitr.firstArchived ? [status.pitr.firstArchived.archivedAt] : []),
  ].map((iso) => Date.parse(iso)).filter((time) => Number.isFinite(time) && time <= now);
  const oldest = Math.min(now - minDays * 86_400_000, ...times);
  const margin = (now - oldest) * 0.03;
  return { from: oldest - margin, to: now + margin };
}

/** A rectangle at least `min` pixels wide, so that a short gap stays visible. */
function bar(x1: number, x2: number, y: number, height: number, fill: string, title: string, min = 2, mark = ''): string {
  const width = Math.max(x2 - x1, min);
  return `<rect${mark ? ` data-mark="${mark}"` : ''} x="${(x2 - x1 < min ? x1 - (min - (x2 - x1)) / 2 : x1).toFixed(1)}" y="${y}" width="${width.toFixed(1)}" height="${height}" fill="${fill}" rx="1"><title>${escapeHtml(title)}</title></rect>`;
}

/** Writes the labels of one lane: rows from `y` down, placed so none is cut or covered. */
function labels(requests: LabelRequest[], y: number, rows: number, kind: string): string {
  return placeLabels(requests, LEFT + 2, WIDTH - 2, rows)
    .map((label) => `<text data-label="${kind}" x="${label.x.toFixed(1)}" y="${y + label.row * ROW}" text-anchor="${label.anchor}" class="${label.className ?? 'mark-label'}">${escapeHtml(label.text)}</text>`)
    .join('');
}

/**
 * The SVG (a string) of `status` between `span.from` and `span.to` (epoch ms); `title`
 * labels it for screen readers.
 */
export function timelineSvg(status: DatabaseStatus, span: { from: number; to: number }, title: string): string {
  const s = scale(span.from, span.to);
  const bottom = laneY(LANES.length);
  const parts: string[] = [];
  LANES.forEach((lane, index) => {
    const y = laneY(index);
    parts.push(`<rect x="${LEFT}" y="${y + 2}" width="${WIDTH - LEFT - RIGHT}" height="${lane.height - 4}" fill="${index % 2 ? '#f8fafc' : '#f1f5f9'}"/>`);
    parts.push(`<text x="${LEFT - 10}" y="${y + 20}" text-anchor="end" class="lane">${lane.name}</text>`);
  });
  const ticks = axisTicks(span.from, span.to);
  for (const time of ticks) {
    const x = s.x(new Date(time).toISOString());
    parts.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${TOP}" y2="${bottom}" stroke="#e5e7eb"/>`);
  }
  parts.push(labels(ticks.map((time, index) => ({ x: s.x(new Date(time).toISOString()), text: tickLabel(time, span.from, span.to), anchor: 'middle', priority: index % 2, className: 'tick' })), bottom + 16, 1, 'tick'));
  const inSpan = (iso: string) => Date.parse(iso) >= span.from && Date.parse(iso) <= span.to;

  // Lane 0: logical backups, one mark per VERIFIED dump, coloured by tier.
  for (const point of [...status.logical.points].reverse().filter((p) => inSpan(p.at))) {
    const x = s.x(point.at);
    const y = laneY(0);
    const colour = COLOURS.tier[point.tier] ?? COLOURS.tier.manual;
    const shape = point.scope === 'full' ? `<rect data-mark="dump" x="${(x - 2).toFixed(1)}" y="${y + 6}" width="4" height="22" fill="${colour}"` : `<circle data-mark="dump" cx="${x.toFixed(1)}" cy="${y + 17}" r="4" fill="none" stroke="${colour}" stroke-width="2"`;
    parts.push(`${shape}><title>${escapeHtml(`${point.tier} ${point.scope} dump ${point.backupId} at ${formatTime(point.at)}`)}</title>${point.scope === 'full' ? '</rect>' : '</circle>'}`);
  }
  // Lane 1: base backups, a triangle at the end of each, its time written under it when there is room.
  const baseLabels: LabelRequest[] = [];
  for (const base of status.pitr.baseBackups.filter((b) => inSpan(b.at))) {
    const x = s.x(base.at);
    parts.push(`<path data-mark="base" d="M${x.toFixed(1)} ${laneY(1) + 5} l7 16 h-14 z" fill="${COLOURS.base}" fill-opacity="0.85"><title>${escapeHtml(`base backup ${base.backupId} ended ${formatTime(base.at)} (stop LSN ${base.stopLsn}, timeline ${base.timeline})`)}</title></path>`);
    baseLabels.push({ x, text: shortTime(base.at), anchor: 'middle', priority: 1 });
  }
  for (const base of status.pitr.otherBaseBackups.filter((b) => inSpan(b.at))) {
    const x = s.x(base.at);
    parts.push(`<path data-mark="base-off" d="M${x.toFixed(1)} ${laneY(1) + 6} l6 14 h-12 z" fill="#fff" stroke="${COLOURS.off}" stroke-width="2"><title>${escapeHtml(`base backup ${base.backupId} ended ${formatTime(base.at)}: ${base.reason}`)}</title></path>`);
    baseLabels.push({ x, text: `${shortTime(base.at)} (tl ${base.timeline})`, anchor: 'middle', priority: 2 });
  }
  parts.push(labels(baseLabels, laneY(1) + 36, 1, 'base'));

  // Lane 2: the archived WAL as a bar, gaps in red on top, a marker where it ends.
  const { firstArchived, lastArchived } = status.pitr;
  const walLabels: LabelRequest[] = [];
  if (firstArchived && lastArchived) {
    parts.push(bar(s.x(firstArchived.archivedAt), s.x(lastArchived.archivedAt), laneY(2) + 7, 14, COLOURS.wal, `WAL archived ${firstArchived.name} (${formatTime(firstArchived.archivedAt)}) to ${lastArchived.name} (${formatTime(lastArchived.archivedAt)})`));
    if (inSpan(lastArchived.archivedAt)) {
      const x = s.x(lastArchived.archivedAt);
      parts.push(`<line data-mark="wal-end" x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${laneY(2) + 3}" y2="${laneY(2) + 25}" stroke="${COLOURS.walEnd}" stroke-width="3"><title>${escapeHtml(`archived WAL ends: ${lastArchived.name} archived ${formatTime(lastArchived.archivedAt)}`)}</title></line>`);
      walLabels.push({ x, text: `WAL ends ${shortTime(lastArchived.archivedAt)}`, anchor: 'end', priority: 0 });
    }
    if (inSpan(firstArchived.archivedAt)) walLabels.push({ x: s.x(firstArchived.archivedAt), text: `from ${shortTime(firstArchived.archivedAt)}`, anchor: 'start', priority: 1 });
  }
  for (const gap of status.pitr.gaps) {
    const start = gap.after ?? firstArchived?.archivedAt ?? status.now;
    const end = gap.before ?? lastArchived?.archivedAt ?? status.now;
    parts.push(bar(s.x(start), s.x(end), laneY(2) + 3, 22, COLOURS.gap, `WAL gap: ${gap.first}..${gap.last} (${gap.count} segment(s) missing) between ${formatTime(start)} and ${formatTime(end)}`, 4, 'gap'));
    if (inSpan(start)) walLabels.push({ x: (s.x(start) + s.x(end)) / 2, text: `gap (${gap.count})`, anchor: 'middle', priority: 0 });
  }
  parts.push(labels(walLabels, laneY(2) + 37, 1, 'wal'));

  // Lane 3: the moments point-in-time recovery reaches, the window's ends written out.
  const pitrLabels: LabelRequest[] = [];
  status.pitr.ranges.forEach((range, index) => {
    parts.push(bar(s.x(range.from), s.x(range.to), laneY(3) + 7, 14, COLOURS.pitr, `PITR: any moment from ${formatTime(range.from)} to ${formatTime(range.to)} (from ${range.baseBackupIds.join(', ')})`, 2, 'pitr'));
    // The window's own ends first; the ends inside it (around a gap) when there is room.
    if (inSpan(range.from)) pitrLabels.push({ x: s.x(range.from), text: `from ${shortTime(range.from)}`, anchor: 'start', priority: index === 0 ? 0 : 1 });
    if (inSpan(range.to)) pitrLabels.push({ x: s.x(range.to), text: `to ${shortTime(range.to)}`, anchor: 'end', priority: index === status.pitr.ranges.length - 1 ? 0 : 1 });
  });
  parts.push(labels(pitrLabels, laneY(3) + 36, 2, 'pitr'));

  // Lane 4: the named restore points, their names written (two rows), hollow when no range reaches them.
  const pointLabels: LabelRequest[] = [];
  for (const point of status.restorePoints.filter((p) => inSpan(p.at))) {
    const x = s.x(point.at);
    const y = laneY(4) + 5;
    const fill = point.reachable ? COLOURS.point : '#fff';
    parts.push(`<path data-mark="restore-point" d="M${x.toFixed(1)} ${y} l6 7 l-6 7 l-6 -7 z" fill="${fill}" stroke="${point.reachable ? COLOURS.point : COLOURS.off}" stroke-width="2"><title>${escapeHtml(`restore point ${point.name} at ${formatTime(point.at)} (LSN ${point.lsn}, timeline ${point.timeline})${point.reachable ? '' : ': outside the PITR window'}`)}</title></path>`);
    pointLabels.push({ x, text: point.name, anchor: 'middle', priority: 0 });
  }
  parts.push(labels(pointLabels, laneY(4) + 32, 2, 'restore-point'));

  const nowX = s.x(status.now);
  parts.push(`<line x1="${nowX.toFixed(1)}" x2="${nowX.toFixed(1)}" y1="${TOP - 4}" y2="${bottom + 2}" stroke="${COLOURS.now}" stroke-dasharray="4 3"/>`);
  parts.push(`<text x="${(nowX - 4).toFixed(1)}" y="${TOP + 2}" text-anchor="end" class="tick">now</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${bottom + 26}" width="100%" role="img" aria-label="${escapeHtml(title)}"><title>${escapeHtml(title)}</title>${parts.join('')}</svg>`;
}

/** The legend, as inline SVG swatches with labels (HTML). */
export function legendHtml(): string {
  const swatch = (svg: string, label: string) => `<span class="key"><svg width="18" height="14" viewBox="0 0 18 14" aria-hidden="true">${svg}</svg>${escapeHtml(label)}</span>`;
  const tiers = (Object.entries(COLOURS.tier) as Array<[Tier, string]>).map(([tier, colour]) => swatch(`<rect x="7" y="1" width="4" height="12" fill="${colour}"/>`, `${tier} dump`));
  return [
    ...tiers,
    swatch(`<circle cx="9" cy="7" r="4" fill="none" stroke="${COLOURS.tier.manual}" stroke-width="2"/>`, 'tables-only dump'),
    swatch(`<path d="M9 1 l7 12 h-14 z" fill="${COLOURS.base}"/>`, 'base backup (end)'),
    swatch(`<path d="M9 2 l6 10 h-12 z" fill="#fff" stroke="${COLOURS.off}" stroke-width="2"/>`, 'base backup of another timeline'),
    swatch(`<rect x="1" y="4" width="16" height="6" fill="${COLOURS.wal}"/>`, 'WAL archived'),
    swatch(`<line x1="9" x2="9" y1="0" y2="14" stroke="${COLOURS.walEnd}" stroke-width="3"/>`, 'where archived WAL ends'),
    swatch(`<rect x="1" y="2" width="16" height="10" fill="${COLOURS.gap}"/>`, 'WAL gap'),
    swatch(`<rect x="1" y="4" width="16" height="6" fill="${COLOURS.pitr}"/>`, 'PITR: any moment restorable'),
    swatch(`<path d="M9 1 l6 6 l-6 6 l-6 -6 z" fill="${COLOURS.point}"/>`, 'restore point (hollow: not reachable)'),
    swatch(`<line x1="9" x2="9" y1="0" y2="14" stroke="${COLOURS.now}" stroke-dasharray="3 2"/>`, 'now'),
  ].join('');
}
