/**
 * The chaos run's verdict, once archiving has settled: every segment the catalog records
 * is byte-identical to PostgreSQL's own (decoded from the repository, checked against its
 * record), no segment PostgreSQL was told is archived is missing from the catalog, every
 * VERIFIED backup reads back with its SHA-256, `status` tells the truth about gaps, and
 * nothing is left behind in the repository's `.tmp/` or in the catalog (RUNNING, UPLOADED).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { IndexedWalRecord, WalCatalog } from '../../shared/ports/wal-catalog';
import type { BackupEntry } from '../../shared/domain/backup';

/** What the checks found wrong, by how wrong. */
export interface Findings {
  /** Data PostgreSQL handed over that cannot be got back. */
  lost: string[];
  /** A record, state or report that says something untrue. */
  misreported: string[];
  /** Partial files, unsettled entries, processes that outlived the run. */
  leftBehind: string[];
}

/** The segment figures. */
export interface SegmentFigures {
  recorded: number;
  identical: number;
  /** Recorded, but no longer in pg_wal to compare with (should be 0: wal_keep_size keeps them). */
  notInPgWal: number;
  /** Segments PostgreSQL marked done (archive_status/*.done). */
  doneByPostgres: number;
  /** Ranges the catalog keeps for the timeline (1 when continuous). */
  ranges: number;
}

const SEGMENT = /^[0-9A-F]{24}$/;

/** Every recorded segment of `database` decoded from the repository and compared with pg_wal. */
export async function checkSegments(walCatalog: WalCatalog, repository: string, pgWal: string, database: string, findings: Findings): Promise<SegmentFigures> {
  const figures: SegmentFigures = { recorded: 0, identical: 0, notInPgWal: 0, doneByPostgres: 0, ranges: 0 };
  const records: IndexedWalRecord[] = [];
  for (const timeline of await walCatalog.timelines(database)) {
    records.push(...(await walCatalog.listSegments(database, timeline.timeline)).filter((r) => r.kind === 'segment'));
    figures.ranges += (await walCatalog.listRanges(database, timeline.timeline)).length;
  }
  figures.recorded = records.length;
  const recorded = new Set(records.map((r) => r.name));
  for (const record of records) {
    const original = await readFile(join(pgWal, record.name)).catch(() => undefined);
    if (!original) {
      figures.notInPgWal++;
      continue;
    }
    const stored = await readFile(join(repository, record.objectKey)).catch(() => undefined);
    if (!stored) {
      findings.lost.push(`segment ${record.name}: recorded as archived, but ${record.objectKey} is not in the repository`);
      continue;
    }
    if (sha256(stored) !== record.storedSha256 || stored.length !== record.storedSize) {
      findings.misreported.push(`segment ${record.name}: the stored object does not match its record's storedSha256 / storedSize`);
      continue;
    }
    const decoded = decode(stored, record.compression);
    if (!decoded || !decoded.equals(original)) {
      findings.lost.push(`segment ${record.name}: the archived bytes decode to something other than pg_wal/${record.name}`);
      continue;
    }
    if (sha256(original) !== record.sha256) {
      findings.misreported.push(`segment ${record.name}: bytes identical, but the record's sha256 is not theirs`);
      continue;
    }
    figures.identical++;
  }
  const done = (await readdir(join(pgWal, 'archive_status'))).filter((f) => f.endsWith('.done')).map((f) => f.slice(0, -'.done'.length)).filter((n) => SEGMENT.test(n));
  figures.doneByPostgres = done.length;
  const missing = done.filter((name) => !recorded.has(name)).sort();
  if (missing.length) findings.lost.push(`${missing.length} segment(s) PostgreSQL was told are archived have no catalog record: ${summarise(missing)}`);
  if (figures.ranges > 1 && !missing.length) findings.misreported.push(`the catalog keeps ${figures.ranges} ranges although no segment is missing`);
  return figures;
}

/** The backup figures. */
export interface BackupFigures {
  byState: Record<string, number>;
  /** FAILED backups by error code (or the reason's start): each must be a fault's doing, said plainly. */
  failedBecause: Record<string, number>;
  readBack: number;
  readBackBytes: number;
}

/** Reads back every VERIFIED backup's dump from the repository and checks its SHA-256, and its size with its globals'. */
export async function checkBackups(entries: BackupEntry[], repository: string, findings: Findings): Promise<BackupFigures> {
  const figures: BackupFigures = { byState: {}, failedBecause: {}, readBack: 0, readBackBytes: 0 };
  for (const entry of entries) {
    figures.byState[`${entry.kind} ${entry.state}`] = (figures.byState[`${entry.kind} ${entry.state}`] ?? 0) + 1;
    if (entry.state === 'RUNNING' || entry.state === 'UPLOADED') findings.leftBehind.push(`backup ${entry.id} (${entry.kind}) is still ${entry.state} after the run settled`);
    if (entry.state === 'FAILED') {
      const why = `${entry.kind} ${entry.errorCode ?? entry.reason?.slice(0, 60) ?? 'no reason'}`;
      figures.failedBecause[why] = (figures.failedBecause[why] ?? 0) + 1;
    }
    if (entry.state !== 'VERIFIED') continue;
    const file = join(repository, entry.key);
    const size = await stat(file).then((s) => s.size).catch(() => undefined);
    if (size === undefined) {
      findings.lost.push(`backup ${entry.id} (${entry.kind}) is VERIFIED but ${entry.key} is not in the repository`);
      continue;
    }
    const digest = await sha256File(file);
    // A logical backup's recorded size counts its globals file too.
    const globals = entry.globalsKey ? await stat(join(repository, entry.globalsKey)).then((s) => s.size).catch(() => -1) : 0;
    if (digest !== entry.sha256 || (entry.bytes !== undefined && entry.bytes !== size + globals)) {
      findings.misreported.push(`backup ${entry.id} (${entry.kind}) is VERIFIED but reads back as ${size} + ${globals} bytes / ${digest.slice(0, 12)}…, recorded ${entry.bytes} / ${entry.sha256?.slice(0, 12)}…`);
      continue;
    }
    figures.readBack++;
    figures.readBackBytes += size;
  }
  return figures;
}

/** Files under the repository's `.tmp/` (partial writes), with their total size. */
export async function leftoverTemp(repository: string): Promise<{ files: string[]; bytes: number }> {
  const files: string[] = [];
  let bytes = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else {
        files.push(path.slice(repository.length + 1));
        bytes += await stat(path).then((s) => s.size).catch(() => 0);
      }
    }
  };
  await walk(join(repository, '.tmp'));
  return { files, bytes };
}

/** Non-empty `gaps` arrays anywhere in a status report. */
export function reportedGaps(report: unknown): unknown[] {
  const found: unknown[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        if (key === 'gaps' && Array.isArray(inner) && inner.length) found.push(...inner);
        else visit(inner);
      }
    }
  };
  visit(report);
  return found;
}

function decode(stored: Buffer, compression: string): Buffer | undefined {
  if (compression === 'none') return stored;
  if (compression === 'gzip') return gunzipSync(stored);
  const result = spawnSync('zstd', ['-d', '-c', '-q'], { input: stored, maxBuffer: 1 << 30 });
  return result.status === 0 ? result.stdout : undefined;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function sha256File(path: string): Promise<string> {
  return new Promise((done, fail) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .once('error', fail)
      .once('end', () => done(hash.digest('hex')));
  });
}

/** The first and last few of a sorted list of names. */
export function summarise(names: string[]): string {
  return names.length <= 6 ? names.join(', ') : `${names.slice(0, 3).join(', ')} … ${names.slice(-3).join(', ')}`;
}
