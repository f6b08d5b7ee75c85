/**
 * `strongbox list|status --database NAME` with a name Strongbox does not know, in-process
 * over local mode's own state (a catalog server on 127.0.0.1 over files in a temporary
 * STRONGBOX_HOME, the repository folder) and a strongbox.config.json naming app and shop.
 * A typing mistake is an error listing the known names, never "no backups".
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listCommand } from '../../shared/cli/commands/list';
import { statusCommand } from '../../shared/cli/commands/status';
import { output, run } from '../support/cli-output';
import type { BackupEntry } from '../../shared/domain/backup';
import { backupKeys } from '../../shared/domain/keys';
import { openLocalContext } from '../../shared/local/context';
import { resolveHome } from '../../shared/local/home';
import { silentLog } from '../../shared/ports';

let dir: string;
let savedEnv: NodeJS.ProcessEnv;
const savedCwd = process.cwd();

async function withContext<T>(fn: (context: Awaited<ReturnType<typeof openLocalContext>>) => Promise<T>): Promise<T> {
  const context = await openLocalContext({ paths: resolveHome(process.env, dir), storage: { type: 'folder' }, env: process.env, log: silentLog });
  try {
    return await fn(context);
  } finally {
    await context.close();
  }
}

/** A VERIFIED backup of `database` with its objects; `catalog: false` leaves only the objects (a lost catalog). */
async function seed(database: string, id: string, options: { catalog: boolean }): Promise<void> {
  const keys = backupKeys('logical', 'daily', database, id, 'gzip');
  const at = new Date().toISOString();
  const entry: BackupEntry = { id, database, kind: 'logical', tier: 'daily', scope: 'full', state: 'VERIFIED', key: keys.dump, manifestKey: keys.manifest, compression: 'gzip', startedAt: at, heartbeatAt: at };
  await withContext(async ({ catalog, storage }) => {
    if (options.catalog) await catalog.create(entry);
    for (const key of [keys.dump, keys.manifest]) await storage.putBytes(key, `bytes of ${key}`);
  });
}

function failure(out: { out: string[] }): { code: string; message: string; hint: string } {
  return JSON.parse(out.out.join('')).error;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sbx-database-names-'));
  savedEnv = { ...process.env };
  process.env.STRONGBOX_HOME = join(dir, 'state');
  delete process.env.STRONGBOX_CONFIG;
  delete process.env.DATABASE_URL;
  await writeFile(join(dir, 'strongbox.config.json'), JSON.stringify({ databases: [{ name: 'app' }, { name: 'shop' }] }));
  process.chdir(dir);
});
afterAll(async () => {
  process.chdir(savedCwd);
  process.env = savedEnv;
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await rm(join(dir, 'state'), { recursive: true, force: true });
});

describe('--database with a name nobody knows', () => {
  it('list: exit 1, DATABASE_UNKNOWN, the known names (configured and in the catalog), not "no backups"', async () => {
    await seed('legacy', '20260101T030000Z-l-aaaaaa', { catalog: true });
    const out = output(true);

    const code = await run((o) => listCommand({ database: 'nosuch' }, o), out);

    expect(code).toBe(1);
    expect(failure(out)).toEqual({ code: 'DATABASE_UNKNOWN', message: 'no database named "nosuch" in the config or the catalog', hint: 'known: app, legacy, shop' });
  });

  it('list: a near miss suggests the nearest known name', async () => {
    const out = output(false);

    const code = await run((o) => listCommand({ database: 'shpo' }, o), out);

    expect(code).toBe(1);
    expect(out.err.join('')).toContain('HINT: did you mean "shop"?; known: app, shop');
    expect(out.out.join('')).not.toContain('No backups');
  });

  it('status: exit 1 with the same error, instead of "none" and exit 0', async () => {
    const out = output(true);

    const code = await run((o) => statusCommand({ database: 'ap' }, o), out);

    expect(code).toBe(1);
    expect(failure(out)).toMatchObject({ code: 'DATABASE_UNKNOWN', hint: 'did you mean "app"?; known: app, shop' });
  });

  it('an empty catalog while the storage holds backups: the hint says `strongbox catalog rebuild`', async () => {
    await seed('legacy', '20260101T030000Z-l-bbbbbb', { catalog: false });
    const out = output(true);

    const code = await run((o) => listCommand({ database: 'legacy' }, o), out);

    expect(code).toBe(1);
    expect(failure(out).hint).toContain('run `strongbox catalog rebuild`');
  });
});

describe('names Strongbox knows', () => {
  it('a configured database without backups: exit 0, "no backups of" it', async () => {
    const out = output(false);

    expect(await run((o) => listCommand({ database: 'shop' }, o), out)).toBe(0);

    expect(out.out.join('')).toContain('No backups of "shop" in the catalog yet. Take one with `strongbox backup --database shop`.');
  });

  it('a database known only from the catalog is listed', async () => {
    await seed('legacy', '20260101T030000Z-l-cccccc', { catalog: true });
    const out = output(true);

    expect(await run((o) => listCommand({ database: 'legacy' }, o), out)).toBe(0);

    expect(JSON.parse(out.out.join(''))).toEqual([expect.objectContaining({ id: '20260101T030000Z-l-cccccc', database: 'legacy' })]);
  });

  it('list without --database: an empty catalog over a storage with objects points at `catalog rebuild`, not at a first backup', async () => {
    const empty = output(false);
    expect(await run((o) => listCommand({}, o), empty)).toBe(0);
    expect(empty.out.join('')).toContain('No backups in the catalog yet. Take one with `strongbox backup`.');

    await seed('app', '20260101T030000Z-l-dddddd', { catalog: false });
    const lost = output(false);
    expect(await run((o) => listCommand({}, o), lost)).toBe(0);

    expect(lost.out.join('')).toContain('Run `strongbox catalog rebuild` to index the backups again.');
    expect(lost.out.join('')).not.toContain('Take one');
  });
});
