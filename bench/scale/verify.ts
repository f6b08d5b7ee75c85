/**
 * Verification throughput against an S3-compatible server (issue 15 points 2 and 7): the
 * old way (one GET streamed through SHA-256) beside the checksum function's ways (parallel
 * ranged reads hashed in order with OpenSSL's SHA-256, or with the resumable one that a
 * hand-over needs), on the same object in the same run, rounds interleaved. Also each hash
 * alone in memory, to tell the network's share from the CPU's, and what each speed means
 * for Lambda's 900 s. docs/verification.md and docs/benchmarks.md explain the figures.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { makeS3Client, S3Storage } from '../../shared/adapters/storage/s3';
import type { Storage } from '../../shared/ports/storage';
import { ResumableSha256 } from '../../shared/domain/sha256-state';
import { hashObject, type HashOptions } from '../../shared/usecases/verify-object';
import { markdownTable, median } from '../measure';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const TIB = 1024 * GIB;

export interface VerifyBenchOptions {
  /** The S3-compatible server (e.g. an s3rver child) and a bucket on it. */
  endpoint: string;
  bucket: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Size of the object read back; default 256 MiB. */
  sizeMb?: number;
  /** Rounds per way (the median is reported); default 3. */
  rounds?: number;
  /** Ranged GETs in flight; default 8 (the checksum function's). */
  concurrency?: number;
  /** Bytes per ranged GET; default 16 MiB (the checksum function's). */
  rangeBytes?: number;
  /** Lambda's limit and the margin kept for the hand-over, for the "fits" column; default 900 s and 60 s. */
  limitSeconds?: number;
  marginSeconds?: number;
  /**
   * Simulates a per-connection bandwidth cap (MB/s) as S3 has one (~85–90 MB/s per GET), which
   * s3rver does not: each GET (stream or range) is slowed to at most this. Off by default.
   */
  perConnectionMBps?: number;
  progress?: (line: string) => void;
}

export interface Way {
  way: string;
  seconds: number;
  mbPerSecond: number;
  /** What one invocation of `limitSeconds` verifies at this speed. */
  fitsGiB: number;
}

export interface VerifyFigures {
  bytes: number;
  concurrency: number;
  rangeBytes: number;
  ways: Way[];
  /** SHA-256 alone on bytes in memory, MB/s: OpenSSL's and the resumable one. */
  hashOnly: { nativeMbPerSecond: number; resumableMbPerSecond: number };
  /** Hops (invocations) a 5 TiB object needs at the resumable way's speed. */
  hopsFor5TiB: number;
  /** The simulated per-connection cap, when one was set. */
  perConnectionMBps?: number;
}

/** Uploads a random object, reads it back each way `rounds` times, and returns the medians. */
export async function measureVerify(options: VerifyBenchOptions): Promise<VerifyFigures> {
  const say = options.progress ?? (() => undefined);
  const size = (options.sizeMb ?? 256) * MIB;
  const concurrency = options.concurrency ?? 8;
  const rangeBytes = options.rangeBytes ?? 16 * MIB;
  const usable = (options.limitSeconds ?? 900) - (options.marginSeconds ?? 60);
  const client = makeS3Client({ endpoint: options.endpoint, forcePathStyle: true, region: 'us-east-1', ...(options.credentials ? { credentials: options.credentials } : {}) });
  try {
    const stored = new S3Storage(client, options.bucket, { prefix: 'bench-verify' });
    const storage = options.perConnectionMBps ? capped(stored, options.perConnectionMBps * 1e6) : stored;
    const data = randomBytes(size);
    const expected = createHash('sha256').update(data).digest('hex');
    await stored.putStream('object', Readable.from([data]), { sizeEstimate: size });
    say(`verify: ${size / MIB} MiB stored; reading it back ${options.rounds ?? 3} times each way`);
    const ways: Array<[string, HashOptions]> = [
      ['one stream, OpenSSL SHA-256 (before)', { concurrency: 1 }],
      [`${concurrency} ranged GETs × ${rangeBytes / MIB} MiB, OpenSSL SHA-256`, { concurrency, rangeBytes }],
      [`${concurrency} ranged GETs × ${rangeBytes / MIB} MiB, resumable SHA-256 (hand-over)`, { concurrency, rangeBytes, resumable: true }],
    ];
    const times = ways.map(() => [] as number[]);
    for (let round = 0; round < (options.rounds ?? 3); round += 1) {
      for (const [index, [name, hashOptions]] of ways.entries()) {
        const started = performance.now();
        const result = await hashObject(storage, 'object', size, hashOptions);
        const ms = performance.now() - started;
        if (!result.done || result.sha256 !== expected) throw new Error(`${name}: read back other bytes than were stored`);
        times[index]!.push(ms);
        say(`verify: round ${round + 1}, ${name}: ${(ms / 1000).toFixed(2)} s`);
      }
    }
    const figures = ways.map(([way], index) => {
      const seconds = median(times[index]!) / 1000;
      const perSecond = size / seconds;
      return { way, seconds, mbPerSecond: perSecond / 1e6, fitsGiB: (perSecond * usable) / GIB };
    });
    const hashOnly = await hashSpeeds(data.subarray(0, Math.min(size, 128 * MIB)));
    await stored.delete(['object']);
    const hopsFor5TiB = Math.ceil((5 * TIB) / (figures[2]!.mbPerSecond * 1e6 * usable));
    return { bytes: size, concurrency, rangeBytes, ways: figures, hashOnly, hopsFor5TiB, ...(options.perConnectionMBps ? { perConnectionMBps: options.perConnectionMBps } : {}) };
  } finally {
    client.destroy();
  }
}

/** The figures as the markdown docs/benchmarks.md keeps. */
export function verifyReport(figures: VerifyFigures): string {
  const base = figures.ways[0]!.mbPerSecond;
  const table = markdownTable(
    ['way', 'seconds', 'MB/s', 'vs one stream', 'one 900 s invocation verifies'],
    figures.ways.map((way) => [way.way, way.seconds.toFixed(2), way.mbPerSecond.toFixed(1), `${(way.mbPerSecond / base).toFixed(2)} ×`, `${way.fitsGiB.toFixed(0)} GiB`]),
  );
  const hash = `SHA-256 alone in memory: OpenSSL ${figures.hashOnly.nativeMbPerSecond.toFixed(0)} MB/s, resumable ${figures.hashOnly.resumableMbPerSecond.toFixed(0)} MB/s.`;
  const cap = figures.perConnectionMBps ? ` Each GET was capped at ${figures.perConnectionMBps} MB/s (simulated per-connection limit).` : '';
  return `${table}\n\n${hash}${cap} A 5 TiB object at the resumable way's speed takes ${figures.hopsFor5TiB} hand-overs.`;
}

/** `storage` with every GET slowed to `bytesPerSecond` (the simulated per-connection cap). */
function capped(storage: S3Storage, bytesPerSecond: number): Storage {
  const pace = async (bytes: number, started: number): Promise<void> => {
    const due = started + (bytes / bytesPerSecond) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  };
  const slowed = Object.create(storage) as S3Storage;
  slowed.getRange = async (key, start, end) => {
    const started = performance.now();
    const bytes = await storage.getRange(key, start, end);
    await pace(bytes.length, started);
    return bytes;
  };
  slowed.get = async (key) => {
    const source = await storage.get(key);
    const started = performance.now();
    let sent = 0;
    return source.pipe(
      new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          sent += chunk.length;
          void pace(sent, started).then(() => callback(null, chunk));
        },
      }),
    );
  };
  return slowed;
}

async function hashSpeeds(data: Buffer): Promise<VerifyFigures['hashOnly']> {
  const speed = (hash: (chunk: Buffer) => void): number => {
    const started = performance.now();
    for (let offset = 0; offset < data.length; offset += 16 * MIB) hash(data.subarray(offset, offset + 16 * MIB));
    return data.length / 1e6 / ((performance.now() - started) / 1000);
  };
  const native = createHash('sha256');
  const resumable = await ResumableSha256.create();
  return { nativeMbPerSecond: speed((chunk) => native.update(chunk)), resumableMbPerSecond: speed((chunk) => resumable.update(chunk)) };
}
