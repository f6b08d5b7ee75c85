import { execFileSync } from 'node:child_process';
import { chown, link, mkdir, mkdtemp, readdir, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startArchiveEndpoint, type ArchiveEndpointServer } from '../../shared/archive-endpoint/http-server';
import type { HandoffEncoder } from '../../shared/archive-endpoint/handoff';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import { walObjectKey, walRecordKey } from '../../shared/domain/wal/keys';
import { localWalEncoder, type LocalWalEncoder } from '../../shared/local/wal-encoder';
import { ArchiveClient } from '../../shared/wal-host/client';
import { handoffFor, HandoffTransport } from '../../shared/wal-host/handoff';
import type { HostConfig } from '../../shared/wal-host/config';
import { pushFile } from '../../shared/wal-host/push-file';
import { captureLog, type CapturedLog } from '../support/stack';
import { fakeSegment, MIB, OTHER_SYSTEM_ID, sha256 } from '../support/wal-files';
import { walCodec } from '../../shared/adapters/wal-codec/inspect';

// Hand-off (local mode): the WAL host hands the endpoint the WAL file itself — a hard link in
// its spool's tmp folder — and names it in the PUT; the endpoint reads it from the folder its
// own configuration gives for the database, and nothing else, then hashes, compresses and
// checks it itself, as the trusted side.
const TOKEN = 'tok-handoff-5e1f9b2c7a';

let dir: string;
let spoolTmp: string;
let storage: FolderStorage;
let log: CapturedLog;
let encoder: LocalWalEncoder;
let endpoint: ArchiveEndpointServer;
let twin: ArchiveEndpointServer;
let plain: ArchiveEndpointServer;
let noEncoder: ArchiveEndpointServer;
const servers: ArchiveEndpointServer[] = [];

function nameOf(segno: number): string {
  return `0000000100000000000000${segno.toString(16).toUpperCase().padStart(2, '0')}`;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sbx-handoff-'));
  spoolTmp = join(dir, 'spool', 'tmp');
  await mkdir(spoolTmp, { recursive: true });
  await writeFile(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  storage = new FolderStorage(join(dir, 'repository'));
  log = captureLog();
  encoder = localWalEncoder()!;
  const deps = { storage, alerts: new ConsoleAlertPublisher(() => undefined), log, clock: () => new Date(), codec: walCodec };
  const common = { host: '127.0.0.1', port: 0, token: TOKEN, deps, mode: 'bytes', maxSegmentBytes: 2 * MIB } as const;
  const handoff = (database: string) => (database === 'app' ? spoolTmp : undefined);
  // Two instances over one repository (issue 17 point 3), one without hand-offs, one with a folder but no encoder.
  [endpoint, twin, plain, noEncoder] = await Promise.all([
    startArchiveEndpoint({ ...common, handoff, encoder }),
    startArchiveEndpoint({ ...common, handoff, encoder }),
    startArchiveEndpoint(common),
    startArchiveEndpoint({ ...common, handoff }),
  ]);
});

afterAll(async () => {
  await Promise.all([endpoint, twin, plain, noEncoder, ...servers].map((server) => server?.stop()));
  await encoder?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Writes a WAL file into the spool's tmp as a hand-off named `handoff`. */
async function handOver(handoff: string, bytes: Buffer): Promise<void> {
  await writeFile(join(spoolTmp, handoff), bytes);
}

async function put(name: string, handoff: string, options: { database?: string; base?: string; compression?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${options.base ?? endpoint.url}/v1/wal/${options.database ?? 'app'}/${name}/body`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, 'x-strongbox-handoff': handoff, 'x-strongbox-compression': options.compression ?? 'zstd', ...options.headers },
  });
  return { status: res.status, json: await res.json() };
}

async function nothingKept(name: string, database = 'app'): Promise<void> {
  await expect(storage.head(walRecordKey(database, name))).resolves.toBeUndefined();
  for (const compression of ['zstd', 'none'] as const) await expect(storage.head(walObjectKey(database, name, compression))).resolves.toBeUndefined();
}

function clientOf(server: ArchiveEndpointServer, database = 'app'): ArchiveClient {
  return new ArchiveClient({ endpoint: server.url, database, auth: { type: 'token', tokenFile: join(dir, 'token') }, timeoutMs: 30_000 });
}

describe('the archive endpoint with hand-offs', () => {
  it('says so in its health answer, with what it compresses to; without an encoder or a folder it takes none', async () => {
    const health = await Promise.all([endpoint, plain, noEncoder].map(async (server) => (await fetch(`${server.url}/v1/health`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()));
    expect(health[0]).toMatchObject({ mode: 'bytes', handoff: true, encodes: ['zstd', 'none'] });
    expect(health[1]).toMatchObject({ mode: 'bytes', handoff: false });
    expect(health[2]).toMatchObject({ mode: 'bytes', handoff: false });
  });

  it('stores a handed-over segment compressed by itself, its hashes its own measurements; the same file again answers exists', async () => {
    // Prepare
    const raw = fakeSegment({ segmentSize: MIB, segno: 1n });
    await handOver('one.wal', raw);

    // Act
    const first = await put(nameOf(1), 'one.wal');
    const again = await put(nameOf(1), 'one.wal', { base: twin.url });

    // Assess
    expect([first.status, first.json.status, again.status, again.json.status]).toEqual([201, 'stored', 200, 'exists']);
    const record = JSON.parse((await storage.getBytes(walRecordKey('app', nameOf(1)))).toString());
    const stored = await storage.getBytes(walObjectKey('app', nameOf(1), 'zstd'));
    expect(record).toMatchObject({ compression: 'zstd', size: MIB, sha256: sha256(raw), storedSize: stored.length, storedSha256: sha256(stored) });
    expect(unzstd(stored).equals(raw)).toBe(true);
    // The whole segment in zstd's window (wal-encoder.ts): the frame header's Single_Segment_flag
    expect(stored[4]! & 0x20).toBe(0x20);
    expect(log.lines.some((line) => line.message === 'archive request' && line.attributes?.handoff === true && line.attributes.status === 201)).toBe(true);
  });

  it('stores it uncompressed when asked (compression none)', async () => {
    const raw = fakeSegment({ segmentSize: MIB, segno: 2n });
    await handOver('two.wal', raw);

    const answer = await put(nameOf(2), 'two.wal', { compression: 'none' });

    expect([answer.status, answer.json.record.compression, answer.json.record.sha256, answer.json.record.storedSha256]).toEqual([201, 'none', sha256(raw), sha256(raw)]);
    expect((await storage.getBytes(walObjectKey('app', nameOf(2), 'none'))).equals(raw)).toBe(true);
  });

  it.each([
    ['a database without a hand-off folder', 'ok.wal', { database: 'other' }],
    ['an endpoint without an encoder', 'ok.wal', { base: 'noEncoder' }],
    ['a path instead of a file name', '../tmp/ok.wal', {}],
    ['a hidden name', '.ok.wal', {}],
    ['a file that is not there', 'missing.wal', {}],
    ['a symlink', 'link.wal', {}],
    ['a file of another owner', 'foreign.wal', {}],
    ['a folder', 'folder.wal', {}],
    ['a compression it does not write', 'ok.wal', { compression: 'gzip' }],
    ['a declaration beside the file (an older host\'s stored-bytes hand-off)', 'ok.wal', { headers: { 'x-strongbox-declaration': Buffer.from('{}').toString('base64') } }],
  ])('refuses %s with 403 HANDOFF_REFUSED, keeping nothing', async (_what, handoff, options: { database?: string; base?: string; compression?: string; headers?: Record<string, string> }) => {
    // Prepare
    const raw = fakeSegment({ segmentSize: MIB, segno: 3n });
    await handOver('ok.wal', raw);
    await writeFile(join(dir, 'secret'), raw);
    await symlink(join(dir, 'secret'), join(spoolTmp, 'link.wal')).catch(() => undefined);
    await handOver('foreign.wal', raw);
    await chown(join(spoolTmp, 'foreign.wal'), 65534, 65534);
    await mkdir(join(spoolTmp, 'folder.wal'), { recursive: true });

    // Act
    const answer = await put(nameOf(3), handoff, { ...options, base: options.base === 'noEncoder' ? noEncoder.url : endpoint.url });

    // Assess
    expect(answer.status).toBe(403);
    expect(answer.json.error.code).toBe('HANDOFF_REFUSED');
    expect(answer.json.error.hint).toMatch(/the usual way/);
    await nothingKept(nameOf(3), options.database);
  });

  it.each([
    ['a segment whose header names another segment', () => fakeSegment({ segmentSize: MIB, segno: 5n }), 422, 'WAL_HEADER_INVALID'],
    ['a file that is not a segment', () => Buffer.alloc(MIB, 7), 422, 'WAL_HEADER_INVALID'],
    ['a file shorter than its header\'s segment size', () => fakeSegment({ segmentSize: MIB, segno: 4n }).subarray(0, MIB - 8192), 422, 'WAL_HEADER_INVALID'],
    ['a file over the endpoint\'s limit', () => Buffer.concat([fakeSegment({ segmentSize: MIB, segno: 4n }), Buffer.alloc(MIB + 1)]), 413, 'BODY_TOO_LARGE'],
    ['another cluster\'s segment', () => fakeSegment({ segmentSize: MIB, segno: 4n, systemId: OTHER_SYSTEM_ID }), 409, 'SYSTEM_ID_MISMATCH'],
  ])('refuses %s (%s %s), keeping nothing', async (_what, bytes, status, code) => {
    await handOver('bad.wal', bytes());

    const answer = await put(nameOf(4), 'bad.wal');

    expect([answer.status, answer.json.error.code]).toEqual([status, code]);
    await nothingKept(nameOf(4));
  });

  it('refuses other bytes under an archived name with 409 WAL_CONFLICT; the archive keeps the first', async () => {
    const first = await storage.getBytes(walObjectKey('app', nameOf(1), 'zstd'));
    await handOver('other.wal', fakeSegment({ segmentSize: MIB, segno: 1n }));

    const answer = await put(nameOf(1), 'other.wal');

    expect([answer.status, answer.json.error.code]).toEqual([409, 'WAL_CONFLICT']);
    expect((await storage.getBytes(walObjectKey('app', nameOf(1), 'zstd'))).equals(first)).toBe(true);
  });

  it('two endpoint instances handed the same name at once: the same file is stored once (stored, exists); other bytes lose with WAL_CONFLICT', async () => {
    // Prepare
    const same = fakeSegment({ segmentSize: MIB, segno: 6n });
    await handOver('same-a.wal', same);
    await link(join(spoolTmp, 'same-a.wal'), join(spoolTmp, 'same-b.wal'));
    await handOver('diff-a.wal', fakeSegment({ segmentSize: MIB, segno: 7n }));
    await handOver('diff-b.wal', fakeSegment({ segmentSize: MIB, segno: 7n }));

    // Act
    const sameAnswers = await Promise.all([put(nameOf(6), 'same-a.wal'), put(nameOf(6), 'same-b.wal', { base: twin.url })]);
    const diffAnswers = await Promise.all([put(nameOf(7), 'diff-a.wal'), put(nameOf(7), 'diff-b.wal', { base: twin.url })]);

    // Assess
    expect(sameAnswers.map((answer) => answer.json.status).sort()).toEqual(['exists', 'stored']);
    expect(diffAnswers.map((answer) => answer.status).sort()).toEqual([201, 409]);
    const winner = diffAnswers.find((answer) => answer.status === 201)!.json.record;
    const record = JSON.parse((await storage.getBytes(walRecordKey('app', nameOf(7)))).toString());
    expect(record.sha256).toBe(winner.sha256);
  });

  it('refuses a file that changed while it was read (500, retried by the host) and keeps nothing; a failing encoder keeps nothing either', async () => {
    // Prepare: encoders that touch the file while "reading" it, and one that fails
    const touching: HandoffEncoder = {
      compressions: ['zstd'],
      async encode(handle, size, compression) {
        await utimes(join(spoolTmp, 'moving.wal'), new Date(), new Date(Date.now() + 60_000));
        return encoder.encode(handle, size, compression);
      },
    };
    const failing: HandoffEncoder = { compressions: ['zstd'], encode: () => Promise.reject(new Error('the worker died')) };
    const deps = { storage, alerts: new ConsoleAlertPublisher(() => undefined), log, clock: () => new Date(), codec: walCodec };
    const common = { host: '127.0.0.1', port: 0, token: TOKEN, deps, mode: 'bytes', maxSegmentBytes: 2 * MIB, handoff: () => spoolTmp } as const;
    const [moving, broken] = await Promise.all([startArchiveEndpoint({ ...common, encoder: touching }), startArchiveEndpoint({ ...common, encoder: failing })]);
    servers.push(moving, broken);
    await handOver('moving.wal', fakeSegment({ segmentSize: MIB, segno: 8n }));

    // Act
    const changed = await put(nameOf(8), 'moving.wal', { base: moving.url });
    const failed = await put(nameOf(8), 'moving.wal', { base: broken.url });

    // Assess
    expect([changed.status, changed.json.error.code]).toEqual([500, 'INTERNAL']);
    expect(changed.json.error.message).toContain('changed while it was read');
    expect(failed.status).toBe(500);
    await nothingKept(nameOf(8));
  });

  it('pushFile hands the file over (a link, removed after) when the endpoint compresses, and sends the body otherwise', async () => {
    // Prepare
    const pathOf = async (segno: number) => {
      await writeFile(join(dir, nameOf(segno)), fakeSegment({ segmentSize: MIB, segno: BigInt(segno) }));
      return join(dir, nameOf(segno));
    };
    const transport = new HandoffTransport(spoolTmp);
    const before = log.lines.length;

    // Act
    const handed = await pushFile(await pathOf(16), clientOf(endpoint), 'zstd', { direct: true, handoff: transport });
    const again = await pushFile(await pathOf(18), clientOf(endpoint), 'zstd', { direct: true, handoff: transport });
    const sent = await pushFile(await pathOf(17), clientOf(plain), 'zstd', { direct: true, handoff: transport });

    // Assess
    expect([handed.status, again.status, sent.status]).toEqual(['stored', 'stored', 'stored']);
    expect([handed.encodeMs, again.encodeMs]).toEqual([0, 0]);
    const requests = log.lines.slice(before).filter((line) => line.message === 'archive request' && line.attributes?.method === 'PUT');
    expect(requests.map((line) => line.attributes?.handoff ?? false)).toEqual([true, true, false]);
    expect((await readdir(spoolTmp)).filter((entry) => entry.startsWith(`${process.pid}.`))).toEqual([]);
    for (const segno of [16, 17, 18]) {
      const record = JSON.parse((await storage.getBytes(walRecordKey('app', nameOf(segno)))).toString()) as { sha256: string; storedSha256: string; objectKey: string };
      const stored = await storage.getBytes(record.objectKey);
      expect([sha256(stored), sha256(unzstd(stored))]).toEqual([record.storedSha256, record.sha256]);
    }
  });

  it('copies the file when the spool is on another filesystem than pg_wal (no hard link across them), and removes the copy', async () => {
    // Prepare: the spool's tmp on tmpfs (/dev/shm), the WAL file on the disk /tmp is on
    const shm = await mkdtemp('/dev/shm/sbx-handoff-');
    const deps = { storage, alerts: new ConsoleAlertPublisher(() => undefined), log, clock: () => new Date(), codec: walCodec };
    const elsewhere = await startArchiveEndpoint({ host: '127.0.0.1', port: 0, token: TOKEN, deps, mode: 'bytes', maxSegmentBytes: 2 * MIB, handoff: () => shm, encoder });
    servers.push(elsewhere);
    const raw = fakeSegment({ segmentSize: MIB, segno: 48n });
    await writeFile(join(dir, nameOf(48)), raw);
    const before = log.lines.length;
    try {
      expect((await stat(shm)).dev).not.toBe((await stat(dir)).dev);

      // Act
      const pushed = await pushFile(join(dir, nameOf(48)), clientOf(elsewhere), 'zstd', { handoff: new HandoffTransport(shm) });

      // Assess
      expect(pushed.status).toBe('stored');
      expect(log.lines.slice(before).filter((line) => line.message === 'archive request' && line.attributes?.method === 'PUT').map((line) => line.attributes?.handoff)).toEqual([true]);
      expect(JSON.parse((await storage.getBytes(walRecordKey('app', nameOf(48)))).toString()).sha256).toBe(sha256(raw));
      expect(await readdir(shm)).toEqual([]);
    } finally {
      await rm(shm, { recursive: true, force: true });
    }
  });

  it('the transport stands aside for good after a refusal, and pushes the file itself when it cannot link nor copy it', async () => {
    // Prepare
    const pathOf = async (segno: number) => {
      await writeFile(join(dir, nameOf(segno)), fakeSegment({ segmentSize: MIB, segno: BigInt(segno) }));
      return join(dir, nameOf(segno));
    };
    const refusing = new HandoffTransport(spoolTmp);
    const unwritable = new HandoffTransport(join(dir, 'token', 'tmp')); // under a file: no folder can be made there
    const before = log.lines.length;

    // Act: 'other' has no hand-off folder at the endpoint (refused once, then bodies only); the other transport has no folder at all
    const other = clientOf(endpoint, 'other');
    const results = [await pushFile(await pathOf(32), other, 'zstd', { direct: true, handoff: refusing }), await pushFile(await pathOf(33), other, 'zstd', { direct: true, handoff: refusing })];
    results.push(await pushFile(await pathOf(34), clientOf(endpoint), 'zstd', { direct: true, handoff: unwritable }));

    // Assess: the refused PUT, then bodies only
    expect(results.map((result) => result.status)).toEqual(['stored', 'stored', 'stored']);
    const puts = log.lines.slice(before).filter((line) => line.message === 'archive request' && line.attributes?.method === 'PUT');
    expect(puts.map((line) => [line.attributes?.handoff ?? false, line.attributes?.status])).toEqual([
      [true, 403],
      [false, 201],
      [false, 201],
      [false, 201],
    ]);
    expect((await readdir(spoolTmp)).filter((entry) => entry.startsWith(`${process.pid}.`))).toEqual([]);
  });
});

/** The `zstd` command's decoding of `stored`. */
function unzstd(stored: Buffer): Buffer {
  return execFileSync('zstd', ['-d', '-q', '-c'], { input: stored, maxBuffer: 64 * MIB });
}

describe('the hand-off transport checks the answer', () => {
  // A client that answers as told: the transport's own checks, whatever an endpoint says.
  const answering = (answer: (path: string) => Promise<{ size: number; compression: 'zstd' | 'none' }>, path: string) =>
    ({
      health: async () => ({ mode: 'bytes' as const, handoff: true, encodes: ['zstd'] }),
      putHandoff: async (name: string) => {
        const { size, compression } = await answer(path);
        return { status: 'stored' as const, record: { name, compression, size, sha256: 'a'.repeat(64), storedSize: 1, storedSha256: 'b'.repeat(64) } };
      },
    }) as unknown as ArchiveClient;

  it.each([
    ['the file changed while it was handed over', 'WAL_READ_FAILED', async (path: string) => (await utimes(path, new Date(), new Date(Date.now() + 60_000)), { size: MIB, compression: 'zstd' as const })],
    ['a record of another size', 'WAL_PUSH_UNCONFIRMED', async () => ({ size: MIB - 1, compression: 'zstd' as const })],
    ['a record in another compression', 'WAL_PUSH_UNCONFIRMED', async () => ({ size: MIB, compression: 'none' as const })],
  ])('refuses to count it pushed when %s (%s), and removes its link', async (_what, code, answer) => {
    const path = join(dir, nameOf(40));
    await writeFile(path, fakeSegment({ segmentSize: MIB, segno: 40n }));

    const sent = new HandoffTransport(spoolTmp).send(answering(answer, path), path, nameOf(40), 'zstd');

    await expect(sent).rejects.toMatchObject({ code });
    expect((await readdir(spoolTmp)).filter((entry) => entry.startsWith(`${process.pid}.`))).toEqual([]);
  });
});

describe('handoffFor', () => {
  const config = (endpoint: string, handoff = true) => ({ endpoint, spool: '/var/lib/strongbox/spool', fastPaths: { handoff } }) as unknown as HostConfig;

  it.each([
    ['http://127.0.0.1:7450', true],
    ['http://127.8.9.10:7450', true],
    ['http://localhost:7450', true],
    ['http://[::1]:7450', true],
    ['https://abcdefgh.lambda-url.eu-west-1.on.aws', false],
    ['http://10.0.0.5:7450', false],
    ['http://127.0.0.1.example.com:7450', false],
  ])('hands over to %s: %s (an endpoint on this host only)', (endpoint, expected) => {
    expect(handoffFor(config(endpoint)) !== undefined).toBe(expected);
  });

  it('never when fastPaths.handoff is off', () => {
    expect(handoffFor(config('http://127.0.0.1:7450', false))).toBeUndefined();
  });
});
