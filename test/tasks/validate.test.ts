/**
 * The validation task program (tasks/validate.ts) on the local stack: a good backup exits 0 and
 * records ok; a bad job exits 2; SIGTERM exits 143 with nothing recorded and nothing left running.
 */
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEntry } from '../../shared/domain/backup';
import { JOB_EXIT } from '../../shared/domain/invoke/job';
import { pgValidationDeps } from '../../shared/runtime/validate-tools';
import { runLogicalBackup } from '../../shared/usecases/backup';
import type { JobTaskIo } from '../../tasks/restore';
import { runValidateTask } from '../../tasks/validate';
import { startStack, type Stack } from '../support/stack';

let stack: Stack;
let tmp: string;
let good: BackupEntry;

beforeAll(async () => {
  stack = await startStack({ storage: 'folder', rows: 200 });
  tmp = await mkdtemp(join(tmpdir(), 'sbx-task-validate-'));
  await chmod(tmp, 0o755);
  good = await runLogicalBackup(stack.deps, { database: 'app', connection: stack.conn, tier: 'monthly', compression: 'zstd', includeRolePasswords: false, runner: 'test' });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function task(job: string | undefined, onStop: JobTaskIo['onStop'] = () => undefined, free?: (path: string) => Promise<number>) {
  return runValidateTask({ env: job === undefined ? {} : { STRONGBOX_JOB: job }, onStop }, (_env, log) => ({ ...stack.deps, ...pgValidationDeps, log, tmpDir: tmp }), free);
}

describe('validation task program', () => {
  it('SIGTERM: exit 143, nothing recorded, the throwaway server gone', async () => {
    const code = await task(JSON.stringify({ backupId: good.id, database: 'app' }), (stop) => setTimeout(() => stop('SIGTERM'), 300));
    expect(code).toBe(JOB_EXIT.interrupted);
    expect((await stack.catalog.get(good.id))?.lastValidation).toBeUndefined();
    expect(await readdir(tmp)).toEqual([]);
  }, 60_000);

  it('a disk too small for the dump and the restored database: exit 1 before anything starts, nothing recorded', async () => {
    const asked: string[] = [];
    const code = await task(JSON.stringify({ backupId: good.id, database: 'app' }), undefined, async (path) => {
      asked.push(path);
      return 1024 * 1024;
    });
    expect(code).toBe(JOB_EXIT.failed);
    expect(asked).toEqual([tmp]);
    expect((await stack.catalog.get(good.id))?.lastValidation).toBeUndefined();
    expect(await readdir(tmp)).toEqual([]);
  });

  it('the monthly job (latest of a database): exit 0, lastValidation ok', async () => {
    expect(await task('{"backupId":"latest","database":"app"}')).toBe(JOB_EXIT.ok);
    expect((await stack.catalog.get(good.id))?.lastValidation).toMatchObject({ ok: true });
  }, 60_000);

  it.each([
    ['no job', undefined],
    ['a job with a target', JSON.stringify({ database: 'app', target: { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x' } })],
    ['a dry-run job', '{"dryRun":true}'],
  ])('%s: exit 2', async (_name, job) => {
    expect(await task(job)).toBe(JOB_EXIT.badInput);
  });
});
