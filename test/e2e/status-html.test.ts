/**
 * The `status --html` page renders in a real browser: a year of history (dumps of every
 * tier, base backups, a week of WAL with a gap) rendered to one self-contained file,
 * screenshotted by headless Chromium (Debian's `chromium`), and the PNG decoded here to
 * check its size and that it shows the picture — the WAL bar's green and the gap's red
 * among many colours. Chromium missing is a failure, not a skip.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEntry, Tier } from '../../shared/domain/backup';
import { databaseStatus, statusHtml, type ArchivedSegment } from '../../shared/domain/status';
import { timelinePath } from '../../shared/domain/wal/history';
import { formatLsn, segmentName, segmentStartLsn } from '../../shared/domain/wal/names';

const CHROMIUM = process.env.STRONGBOX_CHROMIUM ?? '/usr/bin/chromium';
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

function run(command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, _stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error(`${command} is not installed: this test needs Debian's chromium (apt-get install chromium)`));
        return;
      }
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr });
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
  return databaseStatus({ database: 'app', backups, wal, archiveStatus: { measuredAt: at(300_000), lagSeconds: 2, lastArchivedWal: segments.at(-1)!.name, lastArchivedAt: segments.at(-1)!.archivedAt } }, NOW);
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

    const result = await run(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--user-data-dir=${join(dir, 'profile')}`, `--screenshot=${shot}`, `--window-size=${WIDTH},${HEIGHT}`, `file://${page}`], 90_000);

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
