import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest } from '../../shared/domain/manifest';
import { runLogicalBackup, type BackupRequest } from '../../shared/usecases/backup';
import { failingMidUpload } from '../support/faults';
import { keysUnder, startStack, type Stack } from '../support/stack';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ storage: 's3' });
});
afterAll(async () => stack?.stop());

function request(overrides: Partial<BackupRequest> = {}): BackupRequest {
  return { database: 'app', connection: stack.conn, tier: 'weekly', compression: 'gzip', includeRolePasswords: false, runner: 'test', ...overrides };
}

describe('logical backup into an S3-compatible server (real SDK, s3rver on 127.0.0.1)', () => {
  it('ends VERIFIED, with the stored bytes matching the manifest', async () => {
    const entry = await runLogicalBackup(stack.deps, request());
    expect(entry.state).toBe('VERIFIED');
    const manifest = parseManifest((await stack.storage.getBytes(entry.manifestKey)).toString(), entry.manifestKey);
    expect(manifest.objects.dump).toMatchObject({ key: entry.key, sha256: entry.sha256 });
    expect((await keysUnder(stack.storage, `logical/weekly/app/${entry.id}/`)).length).toBe(3);
  });

  it('a failure mid-upload: FAILED, nothing stored (multipart abort itself is in the storage contract suite)', async () => {
    const failing = failingMidUpload(stack.storage, 50_000, 'connection reset by peer');
    await expect(runLogicalBackup({ ...stack.deps, storage: failing }, request({ tier: 'manual' }))).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
    const [entry] = await stack.catalog.listByDatabase('app', { limit: 1 });
    expect(entry).toMatchObject({ state: 'FAILED', errorCode: 'STORAGE_FAILED' });
    expect(await keysUnder(stack.storage, `logical/manual/app/${entry!.id}/`)).toEqual([]);
  });
});
