import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArchiveClient } from '../../shared/wal-host/client';
import { pushFile } from '../../shared/wal-host/push-file';
import { startEndpointUnderTest, type EndpointUnderTest } from '../support/wal-endpoint';
import { makeSegment, removeDir, seg, tempDir } from './harness';

// The uploader's `direct` pushes: one PUT against a bytes-mode endpoint (its mode asked once),
// the usual prepare → PUT → complete against a presign-mode one.
let base: string;
let bytes: EndpointUnderTest;
let presign: EndpointUnderTest;

beforeAll(async () => {
  base = await tempDir('sbx-direct-');
  await mkdir(join(base, 'out'));
  [bytes, presign] = await Promise.all([startEndpointUnderTest(), startEndpointUnderTest({ mode: 'presign' })]);
  await writeFile(join(base, 'token'), `${bytes.token}\n`, { mode: 0o600 });
});
afterAll(async () => {
  await Promise.all([bytes?.stop(), presign?.stop()]);
  await removeDir(base);
});

function clientOf(endpoint: EndpointUnderTest): ArchiveClient {
  return new ArchiveClient({ endpoint: endpoint.url, database: 'app', auth: { type: 'token', tokenFile: join(base, 'token') }, timeoutMs: 10_000 });
}

async function segment(segno: number): Promise<string> {
  const path = join(base, seg(segno));
  await writeFile(path, makeSegment(segno));
  return path;
}

describe('pushFile with direct', () => {
  it('sends one PUT per file to a bytes-mode endpoint, asking its mode once', async () => {
    const client = clientOf(bytes);
    const first = await pushFile(await segment(1), client, 'zstd', { direct: true });
    const second = await pushFile(await segment(2), client, 'zstd', { direct: true });
    expect([first.status, second.status]).toEqual(['stored', 'stored']);
    expect(bytes.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/health', `PUT /v1/wal/app/${seg(1)}/body`, `PUT /v1/wal/app/${seg(2)}/body`]);
    // The same bytes again: `exists`, and the endpoint kept the first copy.
    expect((await pushFile(join(base, seg(1)), client, 'zstd', { direct: true })).status).toBe('exists');
  });

  it('prepares, uploads to storage and completes against a presign-mode endpoint', async () => {
    const done = await pushFile(await segment(3), clientOf(presign), 'zstd', { direct: true });
    expect(done.status).toBe('stored');
    const endpointCalls = presign.requests.filter((r) => r.server === 'endpoint').map((r) => `${r.method} ${r.path}`);
    expect(endpointCalls).toEqual(['GET /v1/health', `POST /v1/wal/app/${seg(3)}`, `POST /v1/wal/app/${seg(3)}/complete`]);
    expect(presign.requests.filter((r) => r.server === 'storage' && r.method === 'PUT')).toHaveLength(1);
  });
});
