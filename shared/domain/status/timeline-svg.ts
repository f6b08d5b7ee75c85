import type { Tier } from '../backup';
import { escapeHtml, formatTime } from './format';
import type { DatabaseStatus } from './model';

/**
 * The timeline picture of one database as inline SVG: backups as marks, WAL coverage as a
 * bar, gaps in red, the PITR ranges, and "now". Pure: the page embeds it, nothing external.
 */

/** Colours of the picture, also used by the legend. */
export const COLOURS = {
  tier: { daily: '#2563eb', weekly: '#7c3aed', monthly: '#b45309', manual: '#64748b', 'pre-migration': '#db2777' } satisfies Record<Tier, string>,
  base: '#0f766e',
  wal: '#86efac',
  gap: '#dc2626',
  pitr: '#15803d',
  now: '#111827',
  axis: '#6b7280',
} as const;

const WIDTH = 1100;
const LEFT = 150;
const RIGHT = 20;
const LANES = ['Logical backups', 'Base backups', 'WAL archive', 'PITR window'] as const;
const LANE_HEIGHT = 34;
const TOP = 10;

interface Scale {
  x(iso: string): number;
  from: number;
  to: number;
}

function scale(from: number, to: number): Scale {
  const span = Math.max(to - from, 1);
  return { from, to, x: (iso) => LEFT + ((Math.min(Math.max(Date.parse(iso), from), to) - from) / span) * (WIDTH - LEFT - RIGHT) };
}

/** The time span a picture of `status` covers: its oldest mark (or `minDays` back) to now, with a margin. */
export function fullSpan(status: DatabaseStatus, minDays = 7): { from: number; to: number } {
  const now = Date.parse(status.now);
  const times = [
    ...status.logical.points.map((point) => point.at),
    ...status.pitr.baseBackups.map((base) => base.at),
    ...(status.pitr.firstArchived ? [status.pitr.firstArchived.archivedAt] : []),
  ].map((iso) => Date.parse(iso)).filter((time) => Number.isFinite(time) && time <= now);
  const oldest = Math.min(now - minDays * 86_400_000, ...times);
  const margin = (now - oldest) * 0.03;
  return { from: oldest - margin, to: now + margin };
}

function ticks(from: number, to: number): number[] {
  const steps = [3600_000, 6 * 3600_000, 86_400_000, 7 * 86_400_000, 30 * 86_400_000, 91 * 86_400_000, 365 * 86_400_000];
  const step = steps.find((candidate) => (to - from) / candidate <= 8) ?? steps.at(-1)!;
  const out: number[] = [];
  for (let time = Math.ceil(from / step) * step; time <= to; time += step) out.push(time);
  return out;
}

function tickLabel(time: number, from: number, to: number): string {
  const iso = new Date(time).toISOString();
  return to - from <= 2 * 86_400_000 ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(0, 10);
}

function laneY(index: number): number {
  return TOP + index * LANE_HEIGHT;
}

/** A rectangle at least `min` pixels wide, so that a short gap stays visible. */
function bar(x1: number, x2: number, y: number, height: number, fill: string, title: string, min = 2): string {
  const width = Math.max(x2 - x1, min);
  return `<rect x="${(x2 - x1 < min ? x1 - (min - (x2 - x1)) / 2 : x1).toFixed(1)}" y="${y}" width="${width.toFixed(1)}" height="${height}" fill="${fill}" rx="1"><title>${escapeHtml(title)}</title></rect>`;
}

/**
 * The SVG (a string) of `status` between `span.from` and `span.to` (epoch ms); `title`
 * labels it for screen readers.
 */
export function timelineSvg(status: DatabaseStatus, span: { from: number; to: number }, title: string): string {
  const s = scale(span.from, span.to);
  const height = laneY(LANES.length) + 30;
  const parts: string[] = [];
  LANES.forEach((lane, index) => {
    const y = laneY(index);
    parts.push(`<rect x="${LEFT}" y="${y + 2}" width="${WIDTH - LEFT - RIGHT}" height="${LANE_HEIGHT - 4}" fill="${index % 2 ? '#f8fafc' : '#f1f5f9'}"/>`);
    parts.push(`<text x="${LEFT - 10}" y="${y + LANE_HEIGHT / 2 + 4}" text-anchor="end" class="lane">${lane}</text>`);
  });
  for (const time of ticks(span.from, span.to)) {
    const x = s.x(new Date(time).toISOString());
    parts.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${TOP}" y2="${laneY(LANES.length)}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${x.toFixed(1)}" y="${laneY(LANES.length) + 16}" text-anchor="middle" class="tick">${tickLabel(time, span.from, span.to)}</text>`);
  }
  const inSpan = (iso: string) => Date.parse(iso) >= span.from && Date.parse(iso) <= span.to;

  // Lane 0: logical backups, one mark per VERIFIED dump, coloured by tier.
  for (const point of [...status.logical.points].reverse().filter((p) => inSpan(p.at))) {
    const x = s.x(point.at);
    const y = laneY(0);
    const colour = COLOURS.tier[point.tier] ?? COLOURS.tier.manual;
    const shape = point.scope === 'full' ? `<rect x="${(x - 2).toFixed(1)}" y="${y + 6}" width="4" height="${LANE_HEIGHT - 12}" fill="${colour}"` : `<circle cx="${x.toFixed(1)}" cy="${y + LANE_HEIGHT / 2}" r="4" fill="none" stroke="${colour}" stroke-width="2"`;
    parts.push(`${shape}><title>${escapeHtml(`${point.tier} ${point.scope} dump ${point.backupId} at ${formatTime(point.at)}`)}</title>${point.scope === 'full' ? '</rect>' : '</circle>'}`);
  }
  // Lane 1: base backups, a triangle at the end of each.
  for (const base of status.pitr.baseBackups.filter((b) => inSpan(b.at))) {
    const x = s.x(base.at);
    const y = laneY(1) + 7;
    parts.push(`<path d="M${x.toFixed(1)} ${y} l7 ${LANE_HEIGHT - 14} h-14 z" fill="${COLOURS.base}"><title>${escapeHtml(`base backup ${base.backupId} ended ${formatTime(base.at)} (stop LSN ${base.stopLsn}, timeline ${base.timeline})`)}</title></path>`);
  }
  // Lane 2: the archived WAL as a bar, gaps in red on top.
  const { firstArchived, lastArchived } = status.pitr;
  if (firstArchived && lastArchived) {
    parts.push(bar(s.x(firstArchived.archivedAt), s.x(lastArchived.archivedAt), laneY(2) + 8, LANE_HEIGHT - 16, COLOURS.wal, `WAL archived ${firstArchived.name} (${formatTime(firstArchived.archivedAt)}) to ${lastArchived.name} (${formatTime(lastArchived.archivedAt)})`));
  }
  for (const gap of status.pitr.gaps) {
    const start = gap.after ?? firstArchived?.archivedAt ?? status.now;
    const end = gap.before ?? lastArchived?.archivedAt ?? status.now;
    parts.push(bar(s.x(start), s.x(end), laneY(2) + 4, LANE_HEIGHT - 8, COLOURS.gap, `WAL gap: ${gap.first}..${gap.last} (${gap.count} segment(s) missing) between ${formatTime(start)} and ${formatTime(end)}`, 4));
  }
  // Lane 3: the moments point-in-time recovery reaches.
  for (const range of status.pitr.ranges) {
    parts.push(bar(s.x(range.from), s.x(range.to), laneY(3) + 8, LANE_HEIGHT - 16, COLOURS.pitr, `PITR: any moment from ${formatTime(range.from)} to ${formatTime(range.to)} (from ${range.baseBackupIds.join(', ')})`));
  }
  const nowX = s.x(status.now);
  parts.push(`<line x1="${nowX.toFixed(1)}" x2="${nowX.toFixed(1)}" y1="${TOP - 4}" y2="${laneY(LANES.length) + 2}" stroke="${COLOURS.now}" stroke-dasharray="4 3"/>`);
  parts.push(`<text x="${(nowX - 4).toFixed(1)}" y="${TOP + 6}" text-anchor="end" class="tick">now</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="${escapeHtml(title)}"><title>${escapeHtml(title)}</title>${parts.join('')}</svg>`;
}

/** The legend, as inline SVG swatches with labels (HTML). */
export function legendHtml(): string {
  const swatch = (svg: string, label: string) => `<span class="key"><svg width="18" height="14" viewBox="0 0 18 14" aria-hidden="true">${svg}</svg>${escapeHtml(label)}</span>`;
  const tiers = (Object.entries(COLOURS.tier) as Array<[Tier, string]>).map(([tier, colour]) => swatch(`<rect x="7" y="1" width="4" height="12" fill="${colour}"/>`, `${tier} dump`));
  return [
    ...tiers,
    swatch(`<circle cx="9" cy="7" r="4" fill="none" stroke="${COLOURS.tier.manual}" stroke-width="2"/>`, 'tables-only dump'),
    swatch(`<path d="M9 1 l7 12 h-14 z" fill="${COLOURS.base}"/>`, 'base backup (end)'),
    swatch(`<rect x="1" y="4" width="16" height="6" fill="${COLOURS.wal}"/>`, 'WAL archived'),
    swatch(`<rect x="1" y="2" width="16" height="10" fill="${COLOURS.gap}"/>`, 'WAL gap'),
    swatch(`<rect x="1" y="4" width="16" height="6" fill="${COLOURS.pitr}"/>`, 'PITR: any moment restorable'),
    swatch(`<line x1="9" x2="9" y1="0" y2="14" stroke="${COLOURS.now}" stroke-dasharray="3 2"/>`, 'now'),
  ].join('');
}
