import fc from 'fast-check';
import { spawn } from 'node:child_process';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerAlive, ownerLine } from '../../shared/wal-host/spool-protocol';
import { writeHostScripts } from '../../shared/wal-host/scripts';
import { startEndpointUnderTest, type EndpointUnderTest } from '../support/wal-endpoint';
import { buildBundle, makeDataDir, readySegment, removeDir, run, tempDir, waitFor, writeHostConfig } from './harness';

// The spool protocol (shared/wal-host/spool-protocol.ts) under random interleavings and
// kills, with real processes and the real endpoint: PostgreSQL's archiver (the generated
// script, then Node) and the uploader race over a backlog while fast-check's schedule
// kill -9s the uploader or a wal-push at chosen moments, and plants push notes of a pid
// reused by another process. Whatever happens, an exit 0 means the archive holds those very
// bytes (invariant 1), and PostgreSQL gets there in the end.
type Step = { kind: 'archive' } | { kind: 'kill-uploader' } | { kind: 'kill-wal-push' } | { kind: 'reused-note' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Step>({ kind: 'archive' }) },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: 'kill-uploader' }) },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: 'kill-wal-push' }) },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: 'reused-note' }) },
);

let bundle: string;
let bundleDir: string;
beforeAll(async () => {
  bundleDir = await tempDir('sbx-walmodel-');
  bundle = await buildBundle(bundleDir);
});
afterAll(() => removeDir(bundleDir));

/** The pid of the live uploader of `spool` (its owner line checked: never a pid reused by another process), or undefined. */
async function uploaderPid(spool: string): Promise<number | undefined> {
  const text = await readFile(join(spool, 'uploader.pid'), 'utf8').catch(() => undefined);
  return (await ownerAlive(text, 'uploader')) ? Number(text!.split(' ')[0]) : undefined;
}

/** Signals the live uploader of `spool`, if any (it may exit meanwhile). */
async function signalUploader(spool: string, signal: NodeJS.Signals): Promise<void> {
  const pid = await uploaderPid(spool);
  try {
    if (pid) process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** One scenario: a backlog of `count` segments and a schedule; resolves what PostgreSQL saw. */
async function scenario(count: number, steps: Step[]): Promise<void> {
  const base = await tempDir('sbx-walmodel-run-');
  const endpoint: EndpointUnderTest = await startEndpointUnderTest({ handoff: join(base, 'spool', 'tmp') });
  const spool = join(base, 'spool');
  try {
    const { dataDir, walDir } = await makeDataDir(base);
    const config = await writeHostConfig(base, endpoint, { uploader: { idleExitMs: 3_000, scanIntervalMs: 20 }, timeoutMs: 20_000 });
    const { pushScript } = await writeHostScripts({ dir: join(base, 'bin'), nodePath: process.execPath, bundlePath: bundle, configPath: config });
    const names: string[] = [];
    for (let segno = 1; segno <= count; segno++) names.push(await readySegment(walDir, segno));
    const acknowledged: string[] = [];
    let next = 0;
    const archiveNext = async (kill: boolean) => {
      const name = names[next];
      if (!name) return;
      if (kill) {
        // A wal-push killed at once (PostgreSQL's archiver retries the same file later).
        const child = spawn(pushScript, [`pg_wal/${name}`], { cwd: dataDir, stdio: 'ignore' });
        child.kill('SIGKILL');
        await new Promise((resolve) => child.once('close', resolve));
        return;
      }
      const result = await run(pushScript, [`pg_wal/${name}`], { cwd: dataDir });
      if (result.code !== 0) return; // retried by the next archive step, as PostgreSQL does
      // Invariant 1, at the moment of the acknowledgement.
      expect((await endpoint.raw(name)).equals(await readFile(join(walDir, name))), `${name} acknowledged`).toBe(true);
      acknowledged.push(name);
      await rename(join(walDir, 'archive_status', `${name}.ready`), join(walDir, 'archive_status', `${name}.done`));
      next += 1;
    };
    for (const step of steps) {
      if (step.kind === 'archive') await archiveNext(false);
      else if (step.kind === 'kill-wal-push') await archiveNext(true);
      else if (step.kind === 'kill-uploader') await signalUploader(spool, 'SIGKILL');
      else if (names[next]) {
        // A note naming a live process that is not the uploader (this one, with another start time).
        const mine = await ownerLine();
        await writeFile(join(spool, 'out', `${names[next]}.pushing`), `${process.pid} ${BigInt(mine.split(' ')[1] ?? '0') + 1n}\n`).catch(() => undefined);
      }
    }
    // PostgreSQL keeps going until every file is acknowledged.
    for (let tries = 0; next < names.length && tries < names.length * 4; tries++) await archiveNext(false);
    expect(acknowledged).toEqual(names);
    for (const name of names) expect((await endpoint.raw(name)).equals(await readFile(join(walDir, name)))).toBe(true);
  } finally {
    await signalUploader(spool, 'SIGTERM');
    await waitFor('the uploader to exit', async () => (await uploaderPid(spool)) === undefined).catch(() => undefined);
    await endpoint.stop();
    await removeDir(base);
  }
}

describe('the spool protocol under random interleavings and kills', () => {
  it('acknowledges only what the archive holds, and archives everything in the end', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 5 }), fc.array(stepArb, { minLength: 3, maxLength: 12 }), (count, steps) => scenario(count, steps)),
      { numRuns: 6, seed: Number(process.env.WAL_MODEL_SEED ?? 20261205), endOnFailure: true },
    );
  }, 600_000);
});
