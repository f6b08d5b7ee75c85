/**
 * The `status --html` page renders in a real browser: a year of history (dumps of every
 * tier, base backups, a week of WAL with a gap) rendered to one self-contained file,
 * screenshotted by headless Chromium (Debian's `chromium`), and the PNG decoded here to
 * check its size and that it shows the picture — the WAL bar's green and the gap's red
 * among many colours. Chromium missing is a failure, not a skip.
 *
 * Then as a person reads it (issue 13, item 8): the page is rendered again with a measuring
 * script appended (the page itself has none), Chromium's DOM dump gives every picture's
 * written labels with their boxes, and the test checks what must be readable without
 * hovering: at least 4 time ticks per view, no label cut by an edge or covering another,
 * the restore point names, the PITR window's ends, every base backup, where WAL ends.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEntry, Tier } from '../../shared/domain/backup';
import { databaseStatus, statusHtml, type ArchivedSegment, type DatabaseStatus } from '../../shared/domain/status';
import { COLOURS } from '../../shared/domain/status/timeline-svg';
import { timelinePath } from '../../shared/domain/wal/history';
import { formatLsn, segmentName, segmentStartLsn } from '../../shared/domain/wal/names';

const CHROMIUM = process.env.STRONGBOX_CHROMIUM ?? '/usr/bin/chromium';
/** A fresh profile each run, nothing fetched: the page is offline by design. */
const chromiumFlags = (profile: string) => ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--hide-scrollbars', `--user-data-dir=${profile}`];
const NOW = new Date('2026-06-15T12:00:00.000Z');
const DAY = 86_400_000;
const WIDTH = 1200;
const HEIGHT = 800;

let dir: string;

interface Png {
  width: number;
  height: number;
  /** RGB of pixel (x, y). */
  pixel(x: number, y: number): [number, number, number];
}

/** Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes) with node:zlib. */
function decodePng(file: Buffer): Png {
  expect(file.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'PNG signature').toBe(true);
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const data: Buffer[] = [];
  while (offset < file.length) {
    const length = file.readUInt32BE(offset);
    const type = file.toString('latin1', offset + 4, offset + 8);
    const body = file.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      expect({ bitDepth: body[8], interlace: body[12] }).toEqual({ bitDepth: 8, interlace: 0 });
      channels = body[9] === 6 ? 4 : body[9] === 2 ? 3 : 0;
      expect(channels, `colour type ${body[9]}`).toBeGreaterThan(0);
    }
    if (type === 'IDAT') data.push(body);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y += 1) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x += 1) {
      const a = x >= channels ? pixels[y * stride + x - channels]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels]! : 0;
      const paeth = () => {
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      };
      const predictor = [0, a, b, (a + b) >> 1, paeth()][filter];
      if (predictor === undefined) throw new Error(`PNG filter ${filter} is not one of 0-4`);
      pixels[y * stride + x] = (line[x]! + predictor) & 0xff;
    }
  }
  return { width, height, pixel: (x, y) => [pixels[y * stride + x * channels]!, pixels[y * stride + x * channels + 1]!, pixels[y * stride + x * channels + 2]!] };
}

function run(command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error(`${command} is not installed: this test needs Debian's chromium (apt-get install chromium)`));
        return;
      }
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

/** A year of a busy database: every tier of dumps, daily base backups, a week of WAL with a gap 3 days ago. */
function richHistory() {
  const at = (ms: number) => new Date(NOW.getTime() - ms).toISOString();
  const backups: BackupEntry[] = [];
  const add = (id: string, kind: 'logical' | 'base', tier: Tier, startMs: number, extra: Partial<BackupEntry> = {}) =>
    backups.push({
      id,
      database: 'app',
      kind,
      tier,
      scope: 'full',
      state: 'VERIFIED',
      key: `${kind}/${tier}/app/${id}/dump`,
      manifestKey: `${kind}/${tier}/app/${id}/manifest.json`,
      compression: 'gzip',
      startedAt: at(startMs),
      finishedAt: at(startMs - 600_000),
      heartbeatAt: at(startMs - 600_000),
      ...extra,
    });
  for (let day = 0; day < 30; day += 1) add(`daily-${day}`, 'logical', 'daily', day * DAY + 9 * 3600_000, day === 0 ? { state: 'FAILED', reason: 'connection lost' } : day === 2 ? { lastValidation: { at: at(1.5 * DAY), ok: true, seconds: 184 } } : {});
  for (let week = 1; week < 13; week += 1) add(`weekly-${week}`, 'logical', 'weekly', week * 7 * DAY + 9 * 3600_000);
  for (let month = 1; month < 12; month += 1) add(`monthly-${month}`, 'logical', 'monthly', month * 30.4 * DAY + 9 * 3600_000);
  add('pre-migration-1', 'logical', 'pre-migration', 45 * DAY);
  add('tables-1', 'logical', 'manual', 12 * DAY, { scope: 'tables', tables: ['public.orders'] });
  // A segment every 10 minutes for 7.5 days; base backups every day take 1 segment each.
  const first = 0x100n;
  const segments: ArchivedSegment[] = [];
  const count = (7.5 * DAY) / 600_000;
  const segnoAt = (ms: number) => first + BigInt(Math.floor((7.5 * DAY - ms) / 600_000));
  for (let index = 0; index < count; index += 1) {
    const segno = first + BigInt(index);
    const archivedMs = 7.5 * DAY - (index + 1) * 600_000;
    if (archivedMs > 3 * DAY && archivedMs < 3 * DAY + 6 * 3600_000) continue;
    segments.push({ name: segmentName(1, segno), archivedAt: at(archivedMs) });
  }
  for (let day = 0; day < 7; day += 1) {
    const startMs = day * DAY + 10 * 3600_000;
    const startSegno = segnoAt(startMs);
    add(`base-${day}`, 'base', 'daily', startMs, {
      finishedAt: at(startMs - 500_000),
      base: {
        startLsn: formatLsn(segmentStartLsn(startSegno) + 0x28n),
        stopLsn: formatLsn(segmentStartLsn(startSegno) + 0x900000n),
        timeline: 1,
        stopTimeline: 1,
        systemId: '7311234567890123456',
        pgVersion: 15,
        walSegments: { first: segmentName(1, startSegno), last: segmentName(1, startSegno) },
        label: '',
        walIncluded: true,
      },
    });
  }
  const wal = { path: timelinePath(1, []), segments, segmentSize: 16 * 1024 * 1024, newest: segments.at(-1)! };
  const restorePoints = [
    { name: 'before-migration', lsn: '0/9000028', timeline: 1, createdAt: at(2 * DAY) },
    { name: 'release-42', lsn: '0/9800028', timeline: 1, createdAt: at(DAY) },
  ];
  return databaseStatus({ database: 'app', backups, wal, restorePoints, archiveStatus: { measuredAt: at(300_000), lagSeconds: 2, lastArchivedWal: segments.at(-1)!.name, lastArchivedAt: segments.at(-1)!.archivedAt } }, NOW);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sbx-status-html-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('status --html in headless Chromium', () => {
  it('renders the page: a PNG of the window size, with the WAL bar and the gap in red', async () => {
    const status = richHistory();
    expect(status.pitr.gaps).toHaveLength(1);
    const page = join(dir, 'status.html');
    await writeFile(page, statusHtml({ at: NOW.toISOString(), databases: [status] }));
    const shot = join(dir, 'status.png');

    const result = await run(CHROMIUM, [...chromiumFlags(join(dir, 'profile')), `--screenshot=${shot}`, `--window-size=${WIDTH},${HEIGHT}`, `file://${page}`], 90_000);

    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    expect((await stat(shot)).size).toBeGreaterThan(1000);
    // To look at it: STRONGBOX_KEEP_SCREENSHOT=/tmp/status.png npx vitest run test/e2e/status-html.test.ts
    if (process.env.STRONGBOX_KEEP_SCREENSHOT) await copyFile(shot, process.env.STRONGBOX_KEEP_SCREENSHOT);
    const png = decodePng(await readFile(shot));
    expect({ width: png.width, height: png.height }).toEqual({ width: WIDTH, height: HEIGHT });
    const colours = new Set<string>();
    const seen = (r: number, g: number, b: number) => colours.has(`${r},${g},${b}`);
    for (let y = 0; y < png.height; y += 1) for (let x = 0; x < png.width; x += 1) colours.add(png.pixel(x, y).join(','));
    // Not blank: text, lanes and marks give many colours; and the picture's own colours are there.
    expect(colours.size).toBeGreaterThan(50);
    expect(seen(0xdc, 0x26, 0x26), 'the gap in red (#dc2626)').toBe(true);
    expect(seen(0x86, 0xef, 0xac), 'the WAL bar (#86efac)').toBe(true);
    expect(seen(0x15, 0x80, 0x3d), 'the PITR window (#15803d)').toBe(true);
    expect(seen(0x25, 0x63, 0xeb), 'daily dumps (#2563eb)').toBe(true);
  }, 120_000);
});

/** What the measuring script reads from the rendered page (CSS pixels). */
interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
}
interface Measured {
  viewport: number;
  text: string;
  svgs: Array<{ title: string; box: Box; texts: Array<Box & { text: string; cls: string | null; label: string | null }>; marks: Array<Box & { mark: string }> }>;
}

/** Appended to a copy of the page only: the page itself has no script. */
const MEASURE = `<script>
const box = (r) => ({ left: r.left, right: r.right, top: r.top, bottom: r.bottom });
const svgs = [...document.querySelectorAll('svg[role=img]')].map((svg) => ({
  title: svg.getAttribute('aria-label'),
  box: box(svg.getBoundingClientRect()),
  texts: [...svg.querySelectorAll('text')].map((t) => ({ text: t.textContent, cls: t.getAttribute('class'), label: t.getAttribute('data-label'), ...box(t.getBoundingClientRect()) })),
  marks: [...svg.querySelectorAll('[data-mark]')].map((m) => ({ mark: m.getAttribute('data-mark'), ...box(m.getBoundingClientRect()) })),
}));
const pre = document.createElement('pre');
pre.id = 'measured';
pre.textContent = encodeURIComponent(JSON.stringify({ viewport: innerWidth, text: document.body.innerText, svgs }));
document.body.appendChild(pre);
</script>`;

/** Renders the page in Chromium (a screenshot, and the DOM dump of the measured copy). */
async function renderAndMeasure(status: DatabaseStatus, name: string): Promise<{ measured: Measured; shot: string }> {
  const html = statusHtml({ at: status.now, databases: [status] });
  const page = join(dir, `${name}.html`);
  const measuredPage = join(dir, `${name}-measured.html`);
  await writeFile(page, html);
  await writeFile(measuredPage, html.replace('</body>', `${MEASURE}</body>`));
  const shot = join(dir, `${name}.png`);
  const pictured = await run(CHROMIUM, [...chromiumFlags(join(dir, `profile-${name}-shot`)), `--screenshot=${shot}`, `--window-size=${WIDTH},1600`, `file://${page}`], 90_000);
  expect(pictured.code, pictured.stderr.slice(-2000)).toBe(0);
  if (process.env.STRONGBOX_KEEP_SCREENSHOT) await copyFile(shot, process.env.STRONGBOX_KEEP_SCREENSHOT.replace(/\.png$/, `-${name}.png`));
  const dumped = await run(CHROMIUM, [...chromiumFlags(join(dir, `profile-${name}-dom`)), '--dump-dom', `--window-size=${WIDTH},1600`, `file://${measuredPage}`], 90_000);
  expect(dumped.code, dumped.stderr.slice(-2000)).toBe(0);
  const encoded = /<pre id="measured">([^<]*)<\/pre>/.exec(dumped.stdout)?.[1];
  expect(encoded, 'the measuring script ran').toBeDefined();
  return { measured: JSON.parse(decodeURIComponent(encoded!)) as Measured, shot };
}

/** What every picture must satisfy: ≥ 4 ticks, every label inside the picture and the window, no two labels overlapping. */
function expectReadable(measured: Measured): void {
  expect(measured.svgs.length).toBeGreaterThan(0);
  for (const svg of measured.svgs) {
    const ticks = svg.texts.filter((text) => text.cls === 'tick' && text.text !== 'now');
    expect(ticks.length, `${svg.title}: ticks ${ticks.map((t) => t.text).join(', ')}`).toBeGreaterThanOrEqual(4);
    for (const text of svg.texts) {
      expect(text.right - text.left, `"${text.text}" has a size`).toBeGreaterThan(0);
      expect(text.left, `"${text.text}" cut on the left of ${svg.title}`).toBeGreaterThanOrEqual(Math.max(svg.box.left, 0) - 0.5);
      expect(text.right, `"${text.text}" cut on the right of ${svg.title}`).toBeLessThanOrEqual(Math.min(svg.box.right, measured.viewport) + 0.5);
      expect(text.bottom, `"${text.text}" cut at the bottom of ${svg.title}`).toBeLessThanOrEqual(svg.box.bottom + 0.5);
    }
    for (const [index, a] of svg.texts.entries()) {
      for (const b of svg.texts.slice(index + 1)) {
        const overlap = a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
        expect(overlap, `${svg.title}: "${a.text}" and "${b.text}" overlap`).toBe(false);
      }
    }
  }
}

const short = (iso: string) => `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;

/** A fresh install an hour old: the demo's first dumps, two base backups 20 minutes apart, restore points, a pre-migration dump. */
function freshInstall(): DatabaseStatus {
  const MIN = 60_000;
  const at = (minutes: number) => new Date(NOW.getTime() - minutes * MIN).toISOString();
  const entry = (id: string, kind: 'logical' | 'base', tier: Tier, startMin: number, extra: Partial<BackupEntry> = {}): BackupEntry => ({
    id,
    database: 'demo',
    kind,
    tier,
    scope: 'full',
    state: 'VERIFIED',
    key: `${kind}/${tier}/demo/${id}/dump`,
    manifestKey: `${kind}/${tier}/demo/${id}/manifest.json`,
    compression: 'gzip',
    startedAt: at(startMin),
    finishedAt: at(startMin - 1),
    heartbeatAt: at(startMin - 1),
    ...extra,
  });
  // A segment a minute for 70 minutes; base backups start in the segments of 65 and 45 minutes ago.
  const segments: ArchivedSegment[] = [];
  for (let minute = 70; minute >= 2; minute -= 1) segments.push({ name: segmentName(1, BigInt(72 - minute)), archivedAt: at(minute) });
  const base = (id: string, startMin: number) => {
    const segno = BigInt(72 - startMin);
    return entry(id, 'base', 'daily', startMin, {
      base: { startLsn: formatLsn(segmentStartLsn(segno) + 0x28n), stopLsn: formatLsn(segmentStartLsn(segno) + 0x130n), timeline: 1, stopTimeline: 1, systemId: '7311234567890123456', pgVersion: 15, walSegments: { first: segmentName(1, segno), last: segmentName(1, segno) }, label: '', walIncluded: true },
    });
  };
  const backups = [entry('monthly-0', 'logical', 'monthly', 66), base('base-a', 65), base('base-b', 45), entry('manual-0', 'logical', 'manual', 40), entry('pre-migration-0', 'logical', 'pre-migration', 30)];
  const restorePoints = [
    { name: 'e2e-point', lsn: '0/1C000028', timeline: 1, createdAt: at(38) },
    { name: 'before-migration', lsn: '0/1E000028', timeline: 1, createdAt: at(31) },
    { name: 'after-fix', lsn: '0/2C000028', timeline: 1, createdAt: at(12) },
  ];
  const wal = { path: timelinePath(1, []), segments, segmentSize: 16 * 1024 * 1024, newest: segments.at(-1)!, live: { timeline: 1, at: at(5), source: 'checkpoint' as const } };
  return databaseStatus({ database: 'demo', backups, wal, restorePoints, archiveStatus: { measuredAt: at(5), lagSeconds: 1, lastArchivedWal: segments.at(-1)!.name, lastArchivedAt: segments.at(-1)!.archivedAt } }, NOW);
}

describe('status --html reads without hovering (Chromium, measured)', () => {
  it('a fresh install an hour old: the zoomed view has ticks, both base backups, where WAL ends, the window ends and every restore point name', async () => {
    const status = freshInstall();
    expect(status.pitr.baseBackups.map((b) => b.backupId)).toEqual(['base-a', 'base-b']);

    const { measured } = await renderAndMeasure(status, 'fresh');

    expectReadable(measured);
    expect(measured.svgs.map((svg) => svg.title)).toEqual(['Timeline of demo', 'PITR window of demo']);
    const zoomed = measured.svgs[1]!;
    const written = zoomed.texts.map((text) => text.text);
    expect(zoomed.marks.filter((mark) => mark.mark === 'base')).toHaveLength(2);
    const [first, second] = zoomed.marks.filter((mark) => mark.mark === 'base');
    expect(second!.left, 'the two base backups do not cover each other').toBeGreaterThan(first!.right);
    expect(written).toEqual(expect.arrayContaining(status.pitr.baseBackups.map((b) => short(b.at))));
    expect(written).toEqual(expect.arrayContaining(['e2e-point', 'before-migration', 'after-fix']));
    expect(written).toEqual(expect.arrayContaining([`from ${short(status.pitr.from!)}`, `to ${short(status.pitr.to!)}`, `WAL ends ${short(status.pitr.lastArchived!.archivedAt)}`]));
    expect(zoomed.marks.filter((mark) => mark.mark === 'wal-end')).toHaveLength(1);
    // The full view, a week wide, still has its ticks and shows where WAL ends.
    expect(measured.svgs[0]!.marks.filter((mark) => mark.mark === 'wal-end')).toHaveLength(1);
    // The tables: restore points and timelines, the legend's new keys.
    expect(measured.text).toContain('Named restore points');
    expect(measured.text).toMatch(/before-migration\s+2026-06-15 11:29:00Z/);
    expect(measured.text).toMatch(/WAL timelines[\s\S]*\b1\b[\s\S]*live server[\s\S]*--timeline 1/);
    expect(measured.text).toContain('where archived WAL ends');
    expect(measured.text).toContain('pre-migration dump');
  }, 240_000);

  it('a year of history: every view has at least 4 readable ticks, labels inside and apart, restore points named in the zoom', async () => {
    const status = richHistory();

    const { measured } = await renderAndMeasure(status, 'year');

    expectReadable(measured);
    const zoomed = measured.svgs.find((svg) => svg.title.startsWith('PITR window'))!;
    expect(zoomed.texts.map((text) => text.text)).toEqual(expect.arrayContaining(['before-migration', 'release-42', `to ${short(status.pitr.to!)}`]));
    expect(zoomed.marks.filter((mark) => mark.mark === 'base')).toHaveLength(status.pitr.baseBackups.length);
    expect(zoomed.marks.filter((mark) => mark.mark === 'gap')).toHaveLength(1);
  }, 240_000);

  it('the pre-migration colour is far from the gap red', () => {
    const rgb = (hex: string) => [1, 3, 5].map((index) => parseInt(hex.slice(index, index + 2), 16));
    const [a, b] = [rgb(COLOURS.tier['pre-migration']), rgb(COLOURS.gap)];
    const distance = Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);
    expect(distance).toBeGreaterThan(200);
  });
});
