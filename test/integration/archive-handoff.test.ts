import { chown, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startArchiveEndpoint, type ArchiveEndpointServer } from '../../shared/archive-endpoint/http-server';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import { walObjectKey, walRecordKey } from '../../shared/domain/wal/keys';
import { ArchiveClient } from '../../shared/wal-host/client';
import { HandoffTransport } from '../../shared/wal-host/handoff';
import { pushFile } from '../../shared/wal-host/push-file';
import { captureLog, type CapturedLog } from '../support/stack';
import { declareSegment, fakeSegment, MIB, sha256, type DeclaredFile } from '../support/wal-files';
import { walCodec } from '../../shared/adapters/wal-codec/inspect';

// Hand-off (local mode): the WAL host leaves the stored bytes in a file of its spool's tmp
// folder and names it in the PUT; the endpoint reads that file itself, from the folder its
// own configuration gives for the database, and nothing else.
const TOKEN = 'tok-handoff-5e1f9b2c7a';
const SEG1 = '000000010000000000000001';

let dir: string;
let spoolTmp: string;
let storage: FolderStorage;
let log: CapturedLog;
let endpoint: ArchiveEndpointServer;
let plain: ArchiveEndpointServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sbx-handoff-'));
  spoolTmp = join(dir, 'spool', 'tmp');
  await mkdir(spoolTmp, { recursive: true });
  storage = new FolderStorage(join(dir, 'repository'));
  log = captureLog();
  const deps = { storage, alerts: new ConsoleAlertPublisher(() => undefined), log, clock: () => new Date(), codec: walCodec };
  const common = { host: '127.0.0.1', port: 0, token: TOKEN, deps, mode: 'bytes', maxSegmentBytes: 2 * MIB } as const;
  endpoint = await startArchiveEndpoint({ ...common, handoff: (database) => (database === 'app' ? spoolTmp : undefined) });
  plain = await startArchiveEndpoint(common);
});

afterAll(async () => {
  await Promise.all([endpoint?.stop(), plain?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

async function put(name: string, file: DeclaredFile, handoff: string, database = 'app', base = endpoint.url): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${base}/v1/wal/${database}/${name}/body`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, 'x-strongbox-declaration': Buffer.from(JSON.stringify(file.declaration)).toString('base64'), 'x-strongbox-handoff': handoff },
  });
  return { status: res.status, json: await res.json() };
}

function segment(segno: bigint): DeclaredFile {
  return declareSegment(fakeSegment({ segmentSize: MIB, segno }), 'gzip');
}

describe('the archive endpoint with hand-off files', () => {
  it('says so in its health answer; an endpoint without hand-off folders says it does not', async () => {
    const [withHandoff, without] = await Promise.all([endpoint, plain].map(async (server) => (await fetch(`${server.url}/v1/health`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()));
    expect(withHandoff).toMatchObject({ mode: 'bytes', handoff: true });
    expect(without).toMatchObject({ mode: 'bytes', handoff: false });
  });

  it('stores the bytes of a hand-off file of the database\'s folder, verified against the declaration; the same push again answers exists without the file', async () => {
    // Prepare
    const file = segment(1n);
    await writeFile(join(spoolTmp, 'one.hand'), file.stored);

    // Act
    const first = await put(SEG1, file, 'one.hand');
    await rm(join(spoolTmp, 'one.hand'));
    const again = await put(SEG1, file, 'one.hand');

    // Assess
    expect([first.status, first.json.status, again.status, again.json.status]).toEqual([201, 'stored', 200, 'exists']);
    expect((await storage.getBytes(walObjectKey('app', SEG1, 'gzip'))).equals(file.stored)).toBe(true);
    expect(JSON.parse((await storage.getBytes(walRecordKey('app', SEG1))).toString())).toMatchObject({ storedSha256: file.declaration.storedSha256 });
    expect(log.lines.some((line) => line.message === 'archive request' && line.attributes?.handoff === true && line.attributes.status === 201)).toBe(true);
  });

  it.each([
    ['a database without a hand-off folder', 'ok.hand', 'other'],
    ['a path instead of a file name', '../tmp/ok.hand', 'app'],
    ['a hidden name', '.ok.hand', 'app'],
    ['a file that is not there', 'missing.hand', 'app'],
    ['a symlink', 'link.hand', 'app'],
    ['a file of another owner', 'foreign.hand', 'app'],
    ['a folder', 'folder.hand', 'app'],
  ])('refuses %s with 403 HANDOFF_REFUSED, keeping nothing', async (_what, handoff, database) => {
    // Prepare
    const file = segment(2n);
    const name = '000000010000000000000002';
    await writeFile(join(spoolTmp, 'ok.hand'), file.stored);
    await writeFile(join(dir, 'secret'), file.stored);
    await symlink(join(dir, 'secret'), join(spoolTmp, 'link.hand')).catch(() => undefined);
    await writeFile(join(spoolTmp, 'foreign.hand'), file.stored);
    await chown(join(spoolTmp, 'foreign.hand'), 65534, 65534);
    await mkdir(join(spoolTmp, 'folder.hand'), { recursive: true });

    // Act
    const answer = await put(name, file, handoff, database);

    // Assess
    expect(answer.status).toBe(403);
    expect(answer.json.error.code).toBe('HANDOFF_REFUSED');
    expect(answer.json.error.hint).toMatch(/request body/);
    await expect(storage.head(walRecordKey(database, name))).resolves.toBeUndefined();
    await expect(storage.head(walObjectKey(database, name, 'gzip'))).resolves.toBeUndefined();
  });

  it('refuses a larger file (413) and a shorter one (422), keeping nothing', async () => {
    // Prepare
    const file = segment(3n);
    const name = '000000010000000000000003';
    await writeFile(join(spoolTmp, 'long.hand'), Buffer.concat([file.stored, Buffer.from('x')]));
    await writeFile(join(spoolTmp, 'short.hand'), file.stored.subarray(1));

    // Act
    const long = await put(name, file, 'long.hand');
    const short = await put(name, file, 'short.hand');

    // Assess
    expect([long.status, long.json.error.code, short.status, short.json.error.code]).toEqual([413, 'BODY_TOO_LARGE', 422, 'CHECKSUM_MISMATCH']);
    await expect(storage.head(walRecordKey('app', name))).resolves.toBeUndefined();
  });

  it('pushFile hands the bytes over in a reused file when the endpoint takes hand-offs, and sends the body otherwise; closing the files removes them', async () => {
    // Prepare
    await writeFile(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
    const clientOf = (server: ArchiveEndpointServer, database: string) =>
      new ArchiveClient({ endpoint: server.url, database, auth: { type: 'token', tokenFile: join(dir, 'token') }, timeoutMs: 10_000 });
    const pathOf = async (segno: bigint) => {
      const name = `0000000100000000000000${segno.toString(16).toUpperCase().padStart(2, '0')}`;
      await writeFile(join(dir, name), fakeSegment({ segmentSize: MIB, segno }));
      return join(dir, name);
    };
    const before = log.lines.length;

    const slots = new HandoffTransport(spoolTmp);

    // Act: two pushes through the same hand-off file (rewritten in place), one to an endpoint without hand-offs
    const handed = await pushFile(await pathOf(16n), clientOf(endpoint, 'app'), 'zstd', { direct: true, handoff: slots });
    const again = await pushFile(await pathOf(18n), clientOf(endpoint, 'app'), 'zstd', { direct: true, handoff: slots });
    const sent = await pushFile(await pathOf(17n), clientOf(plain, 'app'), 'zstd', { direct: true, handoff: slots });
    const kept = (await readdir(spoolTmp)).filter((entry) => entry.endsWith('.hand') && entry.startsWith(`${process.pid}.`));
    await slots.close();

    // Assess
    expect([handed.status, again.status, sent.status]).toEqual(['stored', 'stored', 'stored']);
    const requests = log.lines.slice(before).filter((line) => line.message === 'archive request' && line.attributes?.method === 'PUT');
    expect(requests.map((line) => line.attributes?.handoff ?? false)).toEqual([true, true, false]);
    expect(kept).toHaveLength(1);
    expect((await readdir(spoolTmp)).filter((entry) => entry.startsWith(`${process.pid}.`))).toEqual([]);
    // The rewritten file held exactly the second segment's stored bytes (the endpoint refuses a longer or shorter one).
    const eighteen = JSON.parse((await storage.getBytes(walRecordKey('app', '000000010000000000000012'))).toString()) as { storedSha256: string; objectKey: string };
    expect(sha256(await storage.getBytes(eighteen.objectKey))).toBe(eighteen.storedSha256);
  });

  it('the transport stands aside for good after a refusal, and sends the body when it cannot write its file', async () => {
    // Prepare
    await writeFile(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
    const client = (database: string) => new ArchiveClient({ endpoint: endpoint.url, database, auth: { type: 'token', tokenFile: join(dir, 'token') }, timeoutMs: 10_000 });
    const pathOf = async (segno: bigint) => {
      const name = `0000000100000000000000${segno.toString(16).toUpperCase().padStart(2, '0')}`;
      await writeFile(join(dir, name), fakeSegment({ segmentSize: MIB, segno }));
      return join(dir, name);
    };
    const refusing = new HandoffTransport(spoolTmp);
    const unwritable = new HandoffTransport(join(dir, 'no-such-folder'));
    const before = log.lines.length;

    // Act: 'other' has no hand-off folder at the endpoint (refused once, then bodies only); the other transport has no folder at all
    const other = client('other');
    const results = [await pushFile(await pathOf(32n), other, 'zstd', { direct: true, handoff: refusing }), await pushFile(await pathOf(33n), other, 'zstd', { direct: true, handoff: refusing })];
    results.push(await pushFile(await pathOf(34n), client('app'), 'zstd', { direct: true, handoff: unwritable }));
    await Promise.all([refusing.close(), unwritable.close()]);

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
