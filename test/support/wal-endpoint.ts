/**
 * The real archive endpoint (shared/archive-endpoint) for the WAL host tests, in
 * bytes mode over a repository folder or in presign mode over s3rver, behind a recording
 * wire: a small HTTP relay on 127.0.0.1 that notes every request the host sends (to the
 * endpoint, and in presign mode to storage), and injects the network faults a test asks
 * for (an error status, a flipped byte, a slow download). Nothing here answers in the
 * endpoint's place except an injected failure: every verdict is the real endpoint's.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startArchiveEndpoint, type ArchiveEndpointServer } from '../../shared/archive-endpoint/http-server';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import { S3Presigner } from '../../shared/adapters/storage/presign';
import { S3Storage } from '../../shared/adapters/storage/s3';
import { makeS3Client } from '../../shared/adapters/storage/s3-client';
import type { Storage } from '../../shared/ports/storage';
import { archiveIdentityKey, walRecordKey } from '../../shared/domain/wal/keys';
import type { ArchiveIdentity, WalRecord } from '../../shared/domain/wal/record';
import { runWithInput } from './pg';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from './s3-server';
import { captureLog } from './stack';
import { declareSegment, declareSmallFile } from './wal-files';
import { startWire, type SeenRequest, type WireFaults } from './wire';
import { walCodec } from '../../shared/adapters/wal-codec/inspect';
import { localWalEncoder } from '../../shared/local/wal-encoder';

export type { SeenRequest, WireFaults };
export type Compression = 'none' | 'gzip' | 'zstd';

export interface EndpointUnderTest {
  /** The wire's URL: what host configs name. */
  url: string;
  token: string;
  mode: 'bytes' | 'presign';
  /** Every request the host sent through the wire, in order. */
  requests: SeenRequest[];
  faults: WireFaults;
  /** Resolves when the next download starts sending bytes. */
  nextDownload(): Promise<void>;
  /** Archives `raw` under `name` through the endpoint's own protocol (not through the wire). */
  seed(name: string, raw: Buffer, compression?: Compression): Promise<void>;
  /** The record of an archived file, or undefined. */
  record(name: string): Promise<WalRecord | undefined>;
  /** The decompressed bytes of an archived file. */
  raw(name: string): Promise<Buffer>;
  identity(): Promise<ArchiveIdentity | undefined>;
  /** Bytes mode: rewrites what the repository folder holds for `name` (damage on disk, behind the endpoint's back). */
  tamper(name: string, change: { record?: Partial<WalRecord>; stored?: Buffer }): Promise<void>;
  stop(): Promise<void>;
}

const DATABASE = 'app';
const TOKEN = 'wal-host-test-token-5c1f';
const MAX_SEGMENT_BYTES = 64 << 20;

/**
 * Starts the endpoint. `handoff`: the folder bytes mode reads hand-offs from (the host's
 * `<spool>/tmp`, as npm start gives it) with local mode's encoder, when the test wants that transport.
 */
export async function startEndpointUnderTest(options: { mode?: 'bytes' | 'presign'; handoff?: string } = {}): Promise<EndpointUnderTest> {
  const mode = options.mode ?? 'bytes';
  const stops: Array<() => Promise<unknown>> = [];
  const requests: SeenRequest[] = [];
  const faults: WireFaults = {};
  const common = { requests, faults };
  let storage: Storage;
  let repository: string | undefined;
  let presigner: S3Presigner | undefined;
  let s3: S3TestServer | undefined;
  if (mode === 'bytes') {
    repository = await mkdtemp(join(tmpdir(), 'sbx-walrepo-'));
    stops.push(() => rm(repository!, { recursive: true, force: true }));
    storage = new FolderStorage(repository);
  } else {
    s3 = await startS3Server();
    stops.push(() => s3!.stop());
    storage = new S3Storage(s3.client, s3.bucket, { prefix: 'repo' });
    // The host's uploads and downloads go through a wire of their own, as to S3's origin.
    const storageWire = await startWire(s3.endpoint, 'storage', common);
    stops.push(storageWire.stop);
    const client = makeS3Client({ endpoint: storageWire.url, forcePathStyle: true, region: 'us-east-1', credentials: S3RVER_CREDENTIALS });
    stops.push(async () => client.destroy());
    presigner = new S3Presigner(client, s3.bucket, { prefix: 'repo' });
  }
  const deps = { storage, alerts: new ConsoleAlertPublisher(() => undefined), log: captureLog(), clock: () => new Date(), codec: walCodec, ...(presigner ? { presigner } : {}) };
  const handoff = options.handoff;
  // Hand-offs as local mode takes them: its encoder (zstd workers) reads the handed-over files.
  const encoder = handoff ? localWalEncoder() : undefined;
  if (encoder) stops.push(() => encoder.close());
  const endpoint: ArchiveEndpointServer = await startArchiveEndpoint({
    host: '127.0.0.1',
    token: TOKEN,
    deps,
    mode,
    maxSegmentBytes: MAX_SEGMENT_BYTES,
    ...(handoff ? { handoff: (database: string) => (database === DATABASE ? handoff : undefined), ...(encoder ? { encoder } : {}) } : {}),
  });
  stops.push(() => endpoint.stop());
  const wire = await startWire(endpoint.url, 'endpoint', common);
  stops.push(wire.stop);
  stops.reverse();

  const getText = async (key: string) => (await storage.getBytes(key).catch(() => undefined))?.toString('utf8');
  const record = async (name: string) => {
    const text = await getText(walRecordKey(DATABASE, name));
    return text === undefined ? undefined : (JSON.parse(text) as WalRecord);
  };
  return {
    url: wire.url,
    token: TOKEN,
    mode,
    requests,
    faults,
    nextDownload: wire.nextDownload,
    seed: (name, raw, compression = 'zstd') => seed(endpoint.url, mode, name, raw, compression),
    record,
    async raw(name) {
      const found = await record(name);
      if (!found) throw new Error(`${name} is not archived`);
      const stored = await storage.getBytes(found.objectKey);
      if (found.compression === 'gzip') return gunzipSync(stored);
      return found.compression === 'zstd' ? runWithInput('zstd', ['-d', '-q', '-c'], stored) : stored;
    },
    async identity() {
      const text = await getText(archiveIdentityKey(DATABASE));
      return text === undefined ? undefined : (JSON.parse(text) as ArchiveIdentity);
    },
    async tamper(name, change) {
      if (!repository) throw new Error('tamper works on a repository folder (bytes mode)');
      const found = await record(name);
      if (!found) throw new Error(`${name} is not archived`);
      const recordPath = join(repository, walRecordKey(DATABASE, name));
      await writeFile(recordPath, JSON.stringify({ ...found, ...change.record }));
      if (change.stored) await writeFile(join(repository, found.objectKey), change.stored);
      // The record's own text must still parse as the endpoint wrote it.
      JSON.parse(await readFile(recordPath, 'utf8'));
    },
    async stop() {
      for (const stop of stops) await stop().catch(() => undefined);
    },
  };
}

async function call(url: string, init: RequestInit): Promise<{ status: number; text: string }> {
  const response = await fetch(url, init);
  return { status: response.status, text: await response.text() };
}

/** Archives one file through the endpoint's protocol v1; throws unless it answers stored or exists. */
async function seed(base: string, mode: 'bytes' | 'presign', name: string, raw: Buffer, compression: Compression): Promise<void> {
  const file = /^[0-9A-F]{24}(\.partial)?$/.test(name) ? declareSegment(raw, compression) : declareSmallFile(raw.toString('utf8'));
  const auth = { authorization: `Bearer ${TOKEN}` };
  const walUrl = `${base}/v1/wal/${DATABASE}/${name}`;
  let answer: { status: number; text: string };
  if (mode === 'bytes') {
    const declaration = Buffer.from(JSON.stringify(file.declaration)).toString('base64');
    answer = await call(`${walUrl}/body`, { method: 'PUT', headers: { ...auth, 'x-strongbox-declaration': declaration, 'content-type': 'application/octet-stream' }, body: file.stored });
  } else {
    const json = { ...auth, 'content-type': 'application/json' };
    answer = await call(walUrl, { method: 'POST', headers: json, body: JSON.stringify(file.declaration) });
    const plan = JSON.parse(answer.text) as { status: string; url: string; headers: Record<string, string> };
    if (plan.status === 'upload') {
      const put = await call(plan.url, { method: 'PUT', headers: plan.headers, body: file.stored });
      if (put.status !== 200) throw new Error(`seed ${name}: storage answered ${put.status} ${put.text}`);
      answer = await call(`${walUrl}/complete`, { method: 'POST', headers: json, body: JSON.stringify(file.declaration) });
    }
  }
  if (answer.status !== 200 && answer.status !== 201) throw new Error(`seed ${name}: the endpoint answered ${answer.status} ${answer.text}`);
}
