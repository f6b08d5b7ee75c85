/**
 * `strongbox retention plan|apply` in-process, over local mode's own state (a catalog
 * server on 127.0.0.1 over files in a temporary STRONGBOX_HOME, the repository folder).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { retentionApplyCommand, retentionPlanCommand, registerRetention } from '../../shared/cli/commands/retention';
import { output, run } from '../support/cli-output';
import type { BackupEntry, Tier } from '../../shared/domain/backup';
import { backupKeys } from '../../shared/domain/keys';
import { openLocalContext } from '../../shared/local/context';
import { resolveHome } from '../../shared/local/home';
import { silentLog } from '../../shared/ports';
import { keysUnder } from '../support/stack';

const DAY = 86_400_000;
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

/** A VERIFIED full backup of `app` started `daysAgo` days ago, with its three objects. */
async function seed(id: string, daysAgo: number, tier: Tier): Promise<BackupEntry> {
  const keys = backupKeys('logical', tier, 'app', id, 'gzip');
  const startedAt = new Date(Date.now() - daysAgo * DAY).toISOString();
  const entry: BackupEntry = { id, database: 'app', kind: 'logical', tier, scope: 'full', state: 'VERIFIED', key: keys.dump, manifestKey: keys.manifest, globalsKey: keys.globals, compression: 'gzip', startedAt, heartbeatAt: startedAt };
  await withContext(async ({ catalog, storage }) => {
    await catalog.create(entry);
    for (const key of [keys.dump, keys.globals, keys.manifest]) await storage.putBytes(key, `bytes of ${key}`);
  });
  return entry;
}

async function state(): Promise<{ ids: string[]; keys: string[] }> {
  return withContext(async ({ catalog, storage }) => ({ ids: (await catalog.listAll()).map((e) => e.id), keys: await keysUnder(storage, 'logical/') }));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sbx-retention-cli-'));
  savedEnv = { ...process.env };
  process.env.STRONGBOX_HOME = join(dir, 'state');
  delete process.env.STRONGBOX_CONFIG; // no strongbox.config.json in `dir`: the defaults
  process.chdir(dir);
});
afterAll(async () => {
  process.chdir(savedCwd);
  process.env = savedEnv;
  if (dir) await rm(dir, { recursive: true, force: true });
});

let old: BackupEntry;
let newest: BackupEntry;
beforeEach(async () => {
  await rm(join(dir, 'state'), { recursive: true, force: true });
  old = await seed('20260101T030000Z-l-aaaaaa', 100, 'daily');
  newest = await seed('20260601T030000Z-l-bbbbbb', 1, 'daily');
});

describe('strongbox retention', () => {
  it('plan --json prints the report, with the reason of each decision, and changes nothing', async () => {
    // Prepare
    const before = await state();
    const out = output(true);
    // Act
    const code = await run((o) => retentionPlanCommand({}, o), out);
    // Assess
    expect(code).toBe(0);
    const report = JSON.parse(out.out.join(''));
    expect(report).toMatchObject({ dryRun: true, deleted: [{ id: old.id, rule: 'PAST_WINDOW', reason: 'daily older than 30 days (100.0 days old)' }], kept: [{ id: newest.id, rule: 'NEWEST_VERIFIED' }] });
    expect(report.bytesFreed).toBeGreaterThan(0);
    expect(await state()).toEqual(before);
  });

  it('plan prints one line per backup for humans', async () => {
    const out = output(false);
    expect(await run((o) => retentionPlanCommand({}, o), out)).toBe(0);
    const text = out.out.join('');
    expect(text).toMatch(new RegExp(`DELETE\\s+${old.id}\\s+app\\s+daily\\s+VERIFIED .*daily older than 30 days \\(100\\.0 days old\\) \\[PAST_WINDOW\\]`));
    expect(text).toMatch(new RegExp(`KEEP\\s+${newest.id} .*\\[NEWEST_VERIFIED\\]`));
    expect(text).toContain('nothing was changed');
  });

  it('apply without --yes and without a terminal refuses with exit 2 and changes nothing', async () => {
    // Prepare
    const before = await state();
    const out = output(false);
    // Act
    const code = await run((o) => retentionApplyCommand({}, o, undefined), out);
    // Assess
    expect(code).toBe(2);
    expect(out.err.join('')).toMatch(/no terminal to confirm on\nHINT: pass --yes/);
    expect(await state()).toEqual(before);
  });

  it('apply on a terminal shows the plan and stops unless "delete" is typed', async () => {
    // Prepare
    const before = await state();
    const out = output(false);
    const questions: string[] = [];
    // Act
    const code = await run((o) => retentionApplyCommand({}, o, async (question) => (questions.push(question), 'yes')), out);
    // Assess
    expect(code).toBe(1);
    expect(questions).toEqual([expect.stringMatching(/^Type "delete" to delete 1 backup\(s\)/)]);
    expect(out.err.join('')).toContain(old.id);
    expect(out.err.join('')).toMatch(/retention cancelled/);
    expect(await state()).toEqual(before);
  });

  it('apply on a terminal deletes what it showed once "delete" is typed', async () => {
    const out = output(false);
    expect(await run((o) => retentionApplyCommand({}, o, async () => 'delete'), out)).toBe(0);
    expect(out.out.join('')).toMatch(/Retention applied .*: deleted 1/);
    expect((await state()).ids).toEqual([newest.id]);
  });

  it('apply --yes --json deletes the objects and the entry, and keeps the newest', async () => {
    // Prepare
    const out = output(true);
    // Act
    const code = await run((o) => retentionApplyCommand({ yes: true }, o, undefined), out);
    // Assess
    expect(code).toBe(0);
    expect(JSON.parse(out.out.join(''))).toMatchObject({ dryRun: false, deleted: [{ id: old.id }], failed: [] });
    const after = await state();
    expect(after.ids).toEqual([newest.id]);
    expect(after.keys.every((key) => key.includes(newest.id))).toBe(true);
    expect(after.keys).toHaveLength(3);
  });

  it('plan shows the WAL and restore points; apply on a terminal drops the restore points it showed', async () => {
    // Prepare: restore points of the 15-minute job, one past 24 hours
    await withContext(async ({ walCatalog }) => {
      for (const [name, hours] of [['rp-new', 2], ['rp-old', 30]] as const) {
        await walCatalog.recordRestorePoint('app', { name, lsn: '0/3000000', timeline: 1, createdAt: new Date(Date.now() - hours * 3_600_000).toISOString() });
      }
    });
    const plan = output(false);
    const questions: string[] = [];
    // Act
    const planned = await run((o) => retentionPlanCommand({}, o), plan);
    const applied = await run((o) => retentionApplyCommand({}, o, async (question) => (questions.push(question), 'delete')), output(false));
    // Assess
    expect(planned).toBe(0);
    expect(plan.out.join('')).toMatch(/WAL KEEP\s+app\s+no WAL segment is recorded \[WAL_HELD\]/);
    expect(plan.out.join('')).toContain('would drop 1 restore point(s) older than 24 h, keep 1');
    expect(applied).toBe(0);
    expect(questions).toEqual([expect.stringMatching(/1 backup\(s\), .* and the WAL \/ restore points above of app/)]);
    expect(await withContext(async ({ walCatalog }) => (await walCatalog.listRestorePoints('app')).map((point) => point.name))).toEqual(['rp-new']);
  });

  it('registers plan and apply with examples in their help', () => {
    const program = new Command('strongbox').exitOverride();
    registerRetention(program, async () => undefined);
    const retention = program.commands.find((command) => command.name() === 'retention')!;
    const help = (name: string) => {
      let text = '';
      const sub = retention.commands.find((command) => command.name() === name)!;
      sub.configureOutput({ writeOut: (t) => (text += t) });
      sub.outputHelp();
      return text;
    };
    expect(retention.commands.map((command) => command.name())).toEqual(['plan', 'apply']);
    expect(help('plan')).toContain('strongbox retention plan --database app --json');
    expect(help('apply')).toContain('--yes');
    expect(help('apply')).toContain('strongbox retention apply --yes --json');
  });
});
