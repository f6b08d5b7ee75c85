import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSampleData } from '../../shared/adapters/postgres/sample-data';
import { loadConfig } from '../../shared/local/config-file';
import { openLocalContext } from '../../shared/local/context';
import { resolveHome } from '../../shared/local/home';
import { stderrLog } from '../../shared/local/stderr-log';
import { EXIT, runDumpTask } from '../../tasks/dump';
import { startTestCluster, type TestCluster } from '../support/pg';

const PASSWORD = 'task-Secret-7';
let pg: TestCluster;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  pg = await startTestCluster({ password: PASSWORD });
  await pg.cluster.createDatabase('app');
  await seedSampleData(pg.cluster.connection('app'), { rows: 300 });
  dir = await mkdtemp(join(tmpdir(), 'sbx-task-'));
  await writeFile(join(dir, 'strongbox.config.json'), JSON.stringify({ databases: [{ name: 'app' }] }));
  const { port } = pg.cluster.connection('app');
  env = {
    PATH: process.env.PATH,
    STRONGBOX_HOME: join(dir, 'home'),
    STRONGBOX_CONFIG: join(dir, 'strongbox.config.json'),
    DATABASE_URL: `postgresql://postgres:${PASSWORD}@127.0.0.1:${port}/app`,
    STRONGBOX_DATABASE: 'app',
  };
});
afterAll(async () => {
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function catalogEntries() {
  const paths = resolveHome(env, dir);
  const context = await openLocalContext({ paths, storage: loadConfig(env, dir).config.storage, env, log: stderrLog(false) });
  try {
    return await context.catalog.listByDatabase('app');
  } finally {
    await context.close();
  }
}

describe('the dump task program (ECS task / local child)', () => {
  it('takes the backup named by its environment and exits 0', async () => {
    const code = await runDumpTask({ env: { ...env, STRONGBOX_TIER: 'daily' }, cwd: dir, onStop: () => undefined });
    expect(code).toBe(EXIT.ok);
    const [entry] = await catalogEntries();
    expect(entry).toMatchObject({ state: 'VERIFIED', tier: 'daily', database: 'app' });
  });

  it('SIGTERM (ECS stop): the dump is abandoned, the entry FAILED as INTERRUPTED, exit 143', async () => {
    const code = await runDumpTask({ env: { ...env, STRONGBOX_TIER: 'manual' }, cwd: dir, onStop: (stop) => setImmediate(() => stop('SIGTERM')) });
    expect(code).toBe(EXIT.interrupted);
    const [entry] = await catalogEntries();
    expect(entry).toMatchObject({ state: 'FAILED', errorCode: 'INTERRUPTED', tier: 'manual' });
  });

  it('bad overrides: exit 2 before touching anything', async () => {
    expect(await runDumpTask({ env: { ...env, STRONGBOX_TIER: 'hourly' }, cwd: dir, onStop: () => undefined })).toBe(EXIT.badInput);
    expect(await runDumpTask({ env: { ...env, STRONGBOX_BACKUP_ID: '../x' }, cwd: dir, onStop: () => undefined })).toBe(EXIT.badInput);
    expect(await catalogEntries()).toHaveLength(2);
  });

  it('STRONGBOX_DUMP_JOBS: a parallel backup of that many data parts; a bad value is exit 2', async () => {
    expect(await runDumpTask({ env: { ...env, STRONGBOX_TIER: 'weekly', STRONGBOX_DUMP_JOBS: '0' }, cwd: dir, onStop: () => undefined })).toBe(EXIT.badInput);

    const code = await runDumpTask({ env: { ...env, STRONGBOX_TIER: 'weekly', STRONGBOX_DUMP_JOBS: '2' }, cwd: dir, onStop: () => undefined });

    expect(code).toBe(EXIT.ok);
    const entry = (await catalogEntries()).find((e) => e.tier === 'weekly');
    expect(entry).toMatchObject({ state: 'VERIFIED', key: expect.stringMatching(/\/pre-data\.dump$/) });
    expect(entry?.partKeys?.map((key) => key.slice(key.lastIndexOf('/') + 1))).toEqual(['data-01.dump', 'data-02.dump', 'post-data.dump', 'schema.dump']);
  });
});
