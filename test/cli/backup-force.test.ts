/**
 * `strongbox backup` against a lock left by another backup, in-process over local mode's
 * own state (a catalog server on 127.0.0.1 over files in a temporary STRONGBOX_HOME, the
 * repository folder) and a real PostgreSQL: the refusal names the holder and when its
 * lock expires; `--force`, confirmed, releases it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seedSampleData } from '../../shared/adapters/postgres/sample-data';
import { backupCommand } from '../../shared/cli/commands/backup';
import { output, run } from '../support/cli-output';
import type { BackupEntry } from '../../shared/domain/backup';
import { localRunner } from '../../shared/domain/backup-lock';
import { openLocalContext } from '../../shared/local/context';
import { resolveHome } from '../../shared/local/home';
import { localProcesses } from '../../shared/local/processes';
import { silentLog } from '../../shared/ports';
import { lockName } from '../../shared/usecases/backup-lock';
import { startTestCluster, type TestCluster } from '../support/pg';

let pg: TestCluster;
let dir: string;
let savedEnv: NodeJS.ProcessEnv;
const savedCwd = process.cwd();
const HOLDER = '20260101T030000Z-l-holder';

async function withContext<T>(fn: (context: Awaited<ReturnType<typeof openLocalContext>>) => Promise<T>): Promise<T> {
  const context = await openLocalContext({ paths: resolveHome(process.env, dir), storage: { type: 'folder' }, env: process.env, log: silentLog });
  try {
    return await fn(context);
  } finally {
    await context.close();
  }
}

/** The holder's entry and who holds the lock now. */
async function lockState(): Promise<{ holder: BackupEntry | undefined; owner: string | undefined }> {
  return withContext(async ({ catalog }) => ({ holder: await catalog.get(HOLDER), owner: (await catalog.getLock(lockName('logical', 'shop')))?.owner }));
}

const flags = (extra: Record<string, unknown> = {}) => ({ tier: 'manual', table: [] as string[], ...extra });

beforeAll(async () => {
  pg = await startTestCluster();
  await pg.cluster.createDatabase('shop');
  await seedSampleData(pg.cluster.connection('shop'), { rows: 50 });
  dir = await mkdtemp(join(tmpdir(), 'sbx-backup-force-'));
  savedEnv = { ...process.env };
  process.env.STRONGBOX_HOME = join(dir, 'state');
  process.env.DATABASE_URL = `postgresql://postgres@127.0.0.1:${pg.conn.port}/shop`;
  delete process.env.STRONGBOX_CONFIG; // no strongbox.config.json in `dir`: the defaults (stale after 600 s)
  process.chdir(dir);
});
afterAll(async () => {
  process.chdir(savedCwd);
  process.env = savedEnv;
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

let heartbeatAt: string;
beforeEach(async () => {
  // A backup of shop RUNNING in a live process on this host (this one), heart-beating: what
  // a second terminal's `strongbox backup` would look like.
  await rm(join(dir, 'state'), { recursive: true, force: true });
  heartbeatAt = new Date().toISOString();
  await withContext(async ({ catalog }) => {
    await catalog.create({
      id: HOLDER,
      database: 'shop',
      kind: 'logical',
      tier: 'manual',
      scope: 'full',
      state: 'RUNNING',
      key: `logical/manual/shop/${HOLDER}/dump`,
      manifestKey: `logical/manual/shop/${HOLDER}/manifest.json`,
      compression: 'gzip',
      startedAt: heartbeatAt,
      heartbeatAt,
      runner: localRunner(process.pid, localProcesses.hostname),
    });
    expect(await catalog.acquireLock(lockName('logical', 'shop'), HOLDER, heartbeatAt)).toBe(true);
  });
});

describe('strongbox backup while another backup holds the lock', () => {
  it('is refused (exit 1): the error names the holder, its process, when its lock expires, and --force', async () => {
    const out = output(true);

    const code = await run((o) => backupCommand(flags(), o), out);

    expect(code).toBe(1);
    const { error } = JSON.parse(out.out.join(''));
    const expiresAt = new Date(Date.parse(heartbeatAt) + 600_000).toISOString();
    expect(error.code).toBe('BACKUP_ALREADY_RUNNING');
    expect(error.message).toContain(HOLDER);
    expect(error.message).toContain(`pid ${process.pid} on ${localProcesses.hostname}`);
    expect(error.message).toContain(`its lock expires at ${expiresAt}`);
    expect(error.hint).toContain('`strongbox backup --database shop --force`');
    expect(await lockState()).toMatchObject({ holder: { state: 'RUNNING' }, owner: HOLDER });
  });

  it('--force without --yes and without a terminal refuses with exit 2 and changes nothing', async () => {
    const out = output(false);

    const code = await run((o) => backupCommand(flags({ force: true }), o, undefined), out);

    expect(code).toBe(2);
    expect(out.err.join('')).toMatch(/no terminal to confirm on\nHINT: pass --yes/);
    expect(await lockState()).toMatchObject({ holder: { state: 'RUNNING' }, owner: HOLDER });
  });

  it('--force on a terminal shows the holder and stops unless the database name is typed', async () => {
    const out = output(false);
    const questions: string[] = [];

    const code = await run((o) => backupCommand(flags({ force: true }), o, async (question) => (questions.push(question), 'yes')), out);

    expect(code).toBe(1);
    expect(questions).toEqual([expect.stringContaining('Type the database\'s name ("shop")')]);
    expect(out.err.join('')).toContain(`held by ${HOLDER} (pid ${process.pid} on ${localProcesses.hostname}, RUNNING`);
    expect(out.err.join('')).toMatch(/backup --force cancelled/);
    expect(await lockState()).toMatchObject({ holder: { state: 'RUNNING' }, owner: HOLDER });
  });

  it('--force confirmed on a terminal marks the holder FAILED, releases its lock and takes the backup', async () => {
    const out = output(true);

    const code = await run((o) => backupCommand(flags({ force: true }), o, async () => 'shop'), out);

    expect(code, out.err.join('')).toBe(0);
    expect(JSON.parse(out.out.join(''))).toMatchObject({ database: 'shop', state: 'VERIFIED' });
    const after = await lockState();
    expect(after.holder).toMatchObject({ state: 'FAILED', errorCode: 'LOCK_FORCED', reason: expect.stringContaining('--force') });
    expect(after.owner).toBeUndefined();
  });

  it('--force --yes needs no terminal', async () => {
    const out = output(true);

    const code = await run((o) => backupCommand(flags({ force: true, yes: true }), o, undefined), out);

    expect(code, out.err.join('')).toBe(0);
    expect(out.err.join('')).toContain(`Released the lock of ${HOLDER} (marked FAILED)`);
    expect((await lockState()).holder).toMatchObject({ state: 'FAILED', errorCode: 'LOCK_FORCED' });
  });
});
