import { escapeHtml, formatDuration, formatTime } from './format';
import type { DatabaseStatus } from './model';
import { fullSpan, legendHtml, timelineSvg } from './timeline-svg';

/**
 * `strongbox status --html FILE`: one self-contained page (inline CSS and SVG, no script,
 * no external resource) with, per database, the restore windows, a timeline picture and
 * the tables behind it. Pure: the same report gives the same page.
 */

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#111827;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
h3{font-size:14px;margin:14px 0 6px;color:#374151}
.muted{color:#6b7280}.ok{color:#15803d;font-weight:600}.bad{color:#dc2626;font-weight:600}
table{border-collapse:collapse;margin:4px 0 8px}td,th{border:1px solid #e5e7eb;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f9fafb}
.lane{font-size:12px;fill:#374151}.tick{font-size:11px;fill:#4b5563}.mark-label{font-size:11px;fill:#1f2937}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;margin:4px 0 10px;font-size:12px}.key{display:inline-flex;align-items:center;gap:4px}
.warn{background:#fef2f2;border-left:4px solid #dc2626;padding:6px 10px;margin:4px 0}
.windows{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px}
`;

function windowsHtml(status: DatabaseStatus): string {
  const { logical, pitr } = status;
  const logicalText = logical.from
    ? `the moments of ${logical.points.filter((p) => p.scope === 'full').length} VERIFIED full dump(s), from ${formatTime(logical.from)} to ${formatTime(logical.to)}`
    : '<span class="bad">no VERIFIED full dump</span>';
  const pitrText = pitr.available
    ? pitr.ranges.map((range) => `any moment from ${formatTime(range.from)} to ${formatTime(range.to)} <span class="muted">(base ${range.baseBackupIds.map(escapeHtml).join(', ')})</span>`).join('<br>')
    : `<span class="bad">not available</span> <span class="muted">${escapeHtml(pitr.reason ?? '')}</span>`;
  const gapText = pitr.gaps.length
    ? `<span class="bad">${pitr.gaps.map((gap) => `${gap.first}${gap.count > 1 ? `..${gap.last}` : ''} (${gap.count})`).map(escapeHtml).join(', ')}</span>`
    : '<span class="ok">none</span>';
  return `<div class="windows"><b>Logical restore</b><span>${logicalText}</span><b>Point in time</b><span>${pitrText}</span><b>WAL gaps</b><span>${gapText}</span></div>`;
}

function tiersHtml(status: DatabaseStatus): string {
  if (!status.tiers.length) return '<p class="bad">No backup in the catalog.</p>';
  const rows = status.tiers.map((tier) => {
    const state = tier.state === 'VERIFIED' ? `<span class="ok">${tier.state}</span>` : `<span class="bad">${tier.state}</span>`;
    const verified = tier.lastVerified ? `${escapeHtml(tier.lastVerified.backupId)} (${formatDuration(tier.lastVerified.ageSeconds)} ago)` : '';
    return `<tr><td>${tier.kind}</td><td>${escapeHtml(tier.tier)}</td><td>${escapeHtml(tier.backupId)}</td><td>${state}</td><td>${formatTime(tier.startedAt)}</td><td>${formatDuration(tier.ageSeconds)}</td><td>${verified}</td></tr>`;
  });
  return `<table><tr><th>kind</th><th>tier</th><th>last backup</th><th>state</th><th>started</th><th>age</th><th>last VERIFIED</th></tr>${rows.join('')}</table>`;
}

function healthHtml(status: DatabaseStatus): string {
  const drill = status.lastValidation;
  const drillText = drill
    ? `${drill.ok ? '<span class="ok">passed</span>' : '<span class="bad">FAILED</span>'} ${formatTime(drill.at)} (${formatDuration(drill.ageSeconds)} ago) on ${escapeHtml(drill.backupId)}; RTO ${formatDuration(drill.rtoSeconds)}${drill.reason ? ` — ${escapeHtml(drill.reason)}` : ''}` +
      (status.lastGoodValidation ? `<br><span class="muted">last passed: ${formatTime(status.lastGoodValidation.at)}, RTO ${formatDuration(status.lastGoodValidation.rtoSeconds)}</span>` : '')
    : '<span class="bad">never validated</span> <span class="muted">(strongbox validate)</span>';
  const a = status.archive;
  const rpo = a.rpoNowSeconds !== undefined ? `${formatDuration(a.rpoNowSeconds)} since ${escapeHtml(a.durableThroughWal ?? a.lastArchivedWal ?? '')} was archived (${formatTime(a.durableThroughAt ?? a.lastArchivedAt)})${a.behindBecause ? ` — ${escapeHtml(a.behindBecause)}` : ''}` : '<span class="muted">nothing archived</span>';
  const measured = a.measuredLagSeconds !== undefined ? `${formatDuration(a.measuredLagSeconds)} at ${formatTime(a.measuredAt)}` : '<span class="muted">not measured yet</span>';
  const failed = a.failedCount ? `<span class="bad">${a.failedCount} failure(s), last ${escapeHtml(a.lastFailedWal ?? '')} at ${formatTime(a.lastFailedAt)}</span>` : '<span class="ok">none</span>';
  return `<div class="windows"><b>Last restore drill</b><span>${drillText}</span><b>RPO now</b><span>${rpo}</span><b>Measured archive lag</b><span>${measured}</span><b>Archiver failures</b><span>${failed}</span></div>`;
}

function restorePointsHtml(status: DatabaseStatus): string {
  if (!status.restorePoints.length) return '<p class="muted">No named restore point (strongbox restore-point NAME).</p>';
  const rows = status.restorePoints.map(
    (point) =>
      `<tr><td>${escapeHtml(point.name)}</td><td>${formatTime(point.at)}</td><td>${escapeHtml(point.lsn)}</td><td>${point.timeline}</td><td>${point.reachable ? '<span class="ok">yes</span>' : '<span class="bad">no</span> <span class="muted">(outside the PITR window)</span>'}</td></tr>`,
  );
  return `<table><tr><th>name</th><th>created</th><th>LSN</th><th>timeline</th><th>reachable</th></tr>${rows.join('')}</table>`;
}

function timelinesHtml(status: DatabaseStatus): string {
  if (!status.timelines.length) return '<p class="muted">No WAL archived.</p>';
  const rows = status.timelines.map((timeline) => {
    const branch = timeline.parent !== undefined ? `from timeline ${timeline.parent}${timeline.branchLsn ? ` at ${escapeHtml(timeline.branchLsn)}` : ''}` : '<span class="muted">—</span>';
    return `<tr><td>${timeline.timeline}</td><td>${branch}</td><td>${escapeHtml(timeline.highestName || '—')}</td><td>${timeline.live ? '<span class="ok">live server</span>' : ''}</td><td>${timeline.followed ? 'followed by default' : ''}</td><td><code>${escapeHtml(timeline.flag)}</code></td></tr>`;
  });
  const evidence = status.liveTimeline;
  const source = evidence ? { checkpoint: 'as the WAL checkpoint read it', 'base-backup': 'as the newest base backup recorded it', promotion: 'since pitr --as-primary' }[evidence.source] : '';
  const live = evidence ? `<p class="muted">The live server is on timeline ${evidence.timeline} (${source}, ${formatTime(evidence.at)}).</p>` : '';
  return `<table><tr><th>timeline</th><th>branched</th><th>highest segment</th><th>live</th><th>status, pitr</th><th>to follow it</th></tr>${rows.join('')}</table>${live}`;
}

function databaseHtml(status: DatabaseStatus): string {
  const span = fullSpan(status);
  const pictures = [timelineSvg(status, span, `Timeline of ${status.database}`)];
  if (status.pitr.from) {
    // The WAL window is days inside a year of dumps: show it again, zoomed.
    const from = Math.min(Date.parse(status.pitr.from), ...status.pitr.gaps.map((gap) => Date.parse(gap.after ?? status.pitr.from!)));
    const now = Date.parse(status.now);
    const margin = Math.max((now - from) * 0.05, 60_000);
    if ((now - from) * 4 < span.to - span.from) pictures.push(`<h3>Point-in-time window, zoomed</h3>${timelineSvg(status, { from: from - margin, to: now + margin }, `PITR window of ${status.database}`)}`);
  }
  const warnings = status.warnings.map((warning) => `<div class="warn">${escapeHtml(warning)}</div>`).join('');
  return `<section><h2>${escapeHtml(status.database)}</h2>${windowsHtml(status)}<h3>Timeline</h3>${pictures.join('')}<div class="legend">${legendHtml()}</div>${warnings}<h3>Last backup of each tier</h3>${tiersHtml(status)}<h3>Recovery objectives</h3>${healthHtml(status)}<h3>Named restore points</h3>${restorePointsHtml(status)}<h3>WAL timelines</h3>${timelinesHtml(status)}</section>`;
}

/** The whole page for a status report taken at `at`. */
export function statusHtml(report: { at: string; databases: readonly DatabaseStatus[] }): string {
  const body = report.databases.length ? report.databases.map(databaseHtml).join('') : '<p>No database.</p>';
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Strongbox status ${escapeHtml(formatTime(report.at))}</title><style>${STYLE}</style></head><body><h1>Strongbox status</h1><p class="muted">Taken ${escapeHtml(formatTime(report.at))}. Times are UTC; a WAL segment's moment is when it was archived.</p>${body}</body></html>\n`;
}
