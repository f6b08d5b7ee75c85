/**
 * `strongbox pitr --as-primary`: the only way a recovery archives into the database's
 * archive, refused without a confirmation (exit 2), cancelled by a wrong answer before
 * anything is read or written.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pitrCommand } from '../../shared/cli/commands/pitr';
import { output, run } from '../support/cli-output';

let dir: string;
let savedEnv: NodeJS.ProcessEnv;
const savedCwd = process.cwd();

const base = { latest: true, archive: true, timeout: '3600' };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sbx-pitr-cli-'));
  savedEnv = { ...process.env };
  process.env.STRONGBOX_HOME = join(dir, 'state');
  process.env.DATABASE_URL = 'postgresql://postgres@127.0.0.1:1/app';
  delete process.env.STRONGBOX_CONFIG;
  process.chdir(dir);
});
afterAll(async () => {
  process.chdir(savedCwd);
  process.env = savedEnv;
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('pitr --as-primary', () => {
  it('is refused without a terminal and without --yes (exit 2), before anything is read', async () => {
    const out = output();
    expect(await run((o) => pitrCommand({ ...base, asPrimary: true, pgdata: join(dir, 'new') }, o), out)).toBe(2);
    expect(out.err.join('')).toMatch(/--as-primary makes the recovered cluster the primary[\s\S]*--yes/);
  });

  it('contradicts --no-archive (exit 2)', async () => {
    const out = output();
    expect(await run((o) => pitrCommand({ ...base, archive: false, asPrimary: true, yes: true, pgdata: join(dir, 'new') }, o), out)).toBe(2);
    expect(out.err.join('')).toMatch(/contradict/);
  });

  it('asks for the database name and stops at a wrong answer (exit 1), writing nothing', async () => {
    const out = output();
    const asked: string[] = [];
    const code = await run((o) => pitrCommand({ ...base, asPrimary: true, pgdata: join(dir, 'new') }, o, async (question) => (asked.push(question), 'not-app')), out);
    expect(code).toBe(1);
    expect(asked.join('')).toContain('"app"');
    expect(out.err.join('')).toMatch(/becomes the primary of app[\s\S]*cancelled: "not-app" is not "app"/);
  });
});
