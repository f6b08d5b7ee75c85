import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { access, link, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startEndpointUnderTest, type EndpointUnderTest } from '../support/wal-endpoint';
import { buildBundle, makeDataDir, makeSegment, MIB, removeDir, runWal, seg, SYSTEM_ID, tempDir, writeHostConfig } from './harness';

// wal-push as PostgreSQL runs it: the built bundle in a child process, cwd = data directory,
// %p relative. Exit codes are the contract: 0 only for stored/exists of this very file, else 1.
let base: string;
let bundle: string;
let endpoint: EndpointUnderTest;
let presign: EndpointUnderTest;
let dataDir: string;
let walDir: string;
let config: string;

beforeAll(async () => {
  base = await tempDir('sbx-walpush-');
  [bundle, endpoint, presign] = await Promise.all([buildBundle(base), startEndpointUnderTest(), startEndpointUnderTest({ mode: 'presign' })]);
  ({ dataDir, walDir } = await makeDataDir(base));
  config = await writeHostConfig(base, endpoint);
});
afterAll(async () => {
  await Promise.all([endpoint?.stop(), presign?.stop()]);
  await removeDir(base);
});

async function push(name: string, bytes: Buffer | undefined, configPath = config) {
  if (bytes) await writeFile(join(walDir, name), bytes);
  return runWal(bundle, ['wal-push', `pg_wal/${name}`, '--config', configPath], { cwd: dataDir });
}

function errorLine(stderr: string): { code?: string; hint?: string } {
  const line = stderr.trim().split('\n').at(-1) ?? '{}';
  return JSON.parse(line) as { code?: string; hint?: string };
}

describe('wal-push', () => {
  it('stores a fresh segment: exit 0, declared with its header facts, bytes intact', async () => {
    // Prepare
    const bytes = makeSegment(1);

    // Act
    const result = await push(seg(1), bytes);

    // Assess
    expect(result).toMatchObject({ code: 0, signal: null });
    const record = await endpoint.record(seg(1));
    expect(record).toMatchObject({ name: seg(1), compression: 'zstd', size: MIB, sha256: createHash('sha256').update(bytes).digest('hex'), systemId: SYSTEM_ID });
    expect(await endpoint.identity()).toMatchObject({ systemId: SYSTEM_ID, segmentSize: MIB, pgVersion: 15 });
    expect((await endpoint.raw(seg(1))).equals(bytes)).toBe(true);
  });

  it('with no uploader running, tidies the spool: a hard-link marker of a file PostgreSQL is done with goes', async () => {
    // Prepare: a killed uploader's link to segment 40, which is no longer .ready
    const spoolOut = join(base, 'spool', 'out');
    await mkdir(spoolOut, { recursive: true });
    await writeFile(join(walDir, seg(40)), makeSegment(40));
    await link(join(walDir, seg(40)), join(spoolOut, `${seg(40)}.link`));

    // Act
    const result = await push(seg(41), makeSegment(41));

    // Assess
    expect(result.code).toBe(0);
    await expect(access(join(spoolOut, `${seg(40)}.link`))).rejects.toThrow();
  });

  it('takes names valid only for the segment size in the header (1 MiB segments count to FFF, not FF)', async () => {
    expect(seg(4095)).toBe('000000010000000000000FFF');
    const result = await push(seg(4095), makeSegment(4095));
    expect(result.code).toBe(0);
    expect(await endpoint.record(seg(4095))).toBeDefined();
  });

  it('succeeds on a second push of the same bytes (exists), without uploading them again', async () => {
    const puts = endpoint.requests.filter((r) => r.method === 'PUT').length;
    const result = await push(seg(1), undefined);
    expect(result.code).toBe(0);
    expect(endpoint.requests.filter((r) => r.method === 'PUT').length).toBe(puts);
  });

  it('exits 1 with WAL_CONFLICT when the name was archived with other bytes', async () => {
    const result = await push(seg(1), makeSegment(1));
    expect(result.code).toBe(1);
    expect(errorLine(result.stderr).code).toBe('WAL_CONFLICT');
  });

  it('exits 1 with SYSTEM_ID_MISMATCH for a segment of another cluster', async () => {
    const result = await push(seg(2), makeSegment(2, { systemId: '7399999999999999999' }));
    expect(result.code).toBe(1);
    expect(errorLine(result.stderr).code).toBe('SYSTEM_ID_MISMATCH');
    expect(await endpoint.record(seg(2))).toBeUndefined();
  });

  it('exits 1 with ENDPOINT_UNREACHABLE and a hint when the endpoint is down', async () => {
    await mkdir(join(base, 'down'), { recursive: true });
    const down = await writeHostConfig(join(base, 'down'), { url: 'http://127.0.0.1:1', token: 't' });
    const result = await push(seg(3), makeSegment(3), down);
    expect(result.code).toBe(1);
    expect(errorLine(result.stderr)).toMatchObject({ code: 'ENDPOINT_UNREACHABLE', hint: expect.stringContaining('npm start') });
  });

  it('exits 1 when the endpoint answers 503', async () => {
    endpoint.faults.failStatus = 503;
    try {
      const result = await push(seg(3), makeSegment(3));
      expect(result.code).toBe(1);
      expect(errorLine(result.stderr).code).toBe('STORAGE_FAILED');
    } finally {
      endpoint.faults.failStatus = undefined;
    }
  });

  it('exits 1 with WAL_HEADER_INVALID for garbage under a segment name, and for a truncated segment', async () => {
    const garbage = await push(seg(4), Buffer.alloc(MIB, 0x41));
    expect(garbage.code).toBe(1);
    expect(errorLine(garbage.stderr).code).toBe('WAL_HEADER_INVALID');
    const truncated = await push(seg(5), makeSegment(5).subarray(0, MIB / 2));
    expect(truncated.code).toBe(1);
    expect(errorLine(truncated.stderr).code).toBe('WAL_HEADER_INVALID');
    expect([await endpoint.record(seg(4)), await endpoint.record(seg(5))]).toEqual([undefined, undefined]);
  });

  it('exits 1 with WAL_HEADER_INVALID for a segment renamed to another position', async () => {
    const result = await push(seg(6), makeSegment(7));
    expect(result.code).toBe(1);
    expect(errorLine(result.stderr).code).toBe('WAL_HEADER_INVALID');
  });

  it('exits 1 with BAD_WAL_NAME for a name that is not a WAL file, and WAL_READ_FAILED for a missing one', async () => {
    const bad = await push('000000010000000000000001.tmp', Buffer.from('x'));
    expect(bad.code).toBe(1);
    expect(errorLine(bad.stderr).code).toBe('BAD_WAL_NAME');
    const missing = await push(seg(99), undefined);
    expect(missing.code).toBe(1);
    expect(errorLine(missing.stderr).code).toBe('WAL_READ_FAILED');
  });

  it('exits 1 with UNAUTHENTICATED for a wrong token, and with CONFIG_INVALID without a config', async () => {
    await writeFile(join(base, 'archive.token'), 'wrong-token\n');
    try {
      const wrong = await push(seg(8), makeSegment(8));
      expect(wrong.code).toBe(1);
      expect(errorLine(wrong.stderr).code).toBe('UNAUTHENTICATED');
    } finally {
      await writeFile(join(base, 'archive.token'), `${endpoint.token}\n`);
    }
    const env = { ...process.env };
    delete env.STRONGBOX_WAL_CONFIG;
    const none = await runWal(bundle, ['wal-push', `pg_wal/${seg(8)}`], { cwd: dataDir, env });
    expect(none.code).toBe(1);
    expect(errorLine(none.stderr).code).toBe('CONFIG_INVALID');
  });

  it('archives history and backup-label files without header facts, with each compression', async () => {
    const history = '1\t0/3000000\tno recovery target specified\n';
    const label = `${seg(9)}.00000028.backup`;
    for (const [name, compression] of [
      ['00000002.history', 'none'],
      [label, 'gzip'],
    ] as const) {
      const cfg = await writeHostConfig(base, endpoint, { compression });
      const result = await push(name, Buffer.from(name.endsWith('.history') ? history : 'START WAL LOCATION: 0/9000028\n'), cfg);
      expect(result.code).toBe(0);
      const record = await endpoint.record(name);
      expect(record).toMatchObject({ compression });
      expect(record!.systemId).toBeUndefined();
    }
    await writeHostConfig(base, endpoint);
  });

  it('signs with SigV4 from the bundle when auth is iam (the embedded signer loads on demand)', async () => {
    // Prepare
    const dir = join(base, 'iam');
    await mkdir(dir, { recursive: true });
    const cfg = await writeHostConfig(dir, endpoint, { auth: { type: 'iam', region: 'eu-west-1' } });
    const env: NodeJS.ProcessEnv = { ...process.env, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' };
    delete env.AWS_PROFILE;
    const before = endpoint.requests.length;

    // Act: the local endpoint only knows bearer tokens, so it refuses, but it saw the signature
    await writeFile(join(walDir, seg(11)), makeSegment(11));
    const result = await runWal(bundle, ['wal-push', `pg_wal/${seg(11)}`, '--config', cfg], { cwd: dataDir, env });

    // Assess
    expect(result.code).toBe(1);
    expect(errorLine(result.stderr).code).toBe('UNAUTHENTICATED');
    expect(endpoint.requests[before]?.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request/);
  });

  it('in presign mode sends the bytes to the storage origin without the Authorization header, then completes', async () => {
    // Prepare
    const cfgDir = join(base, 'presign');
    await mkdir(cfgDir, { recursive: true });
    const cfg = await writeHostConfig(cfgDir, presign);

    // Act
    const result = await push(seg(10), makeSegment(10), cfg);

    // Assess
    expect(result.code).toBe(0);
    const storage = presign.requests.filter((r) => r.server === 'storage');
    expect(storage.map((r) => r.method)).toEqual(['PUT']);
    expect(storage[0]!.authorization).toBeUndefined();
    expect(presign.requests.filter((r) => r.server === 'endpoint').every((r) => r.authorization === `Bearer ${presign.token}`)).toBe(true);
    expect(presign.requests.some((r) => r.path.endsWith(`${seg(10)}/complete`))).toBe(true);
    expect((await presign.record(seg(10)))!.compression).toBe('zstd');
  });
});
