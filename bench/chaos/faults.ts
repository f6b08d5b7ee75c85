/**
 * The fault injector: from a seeded generator, at random moments, one of
 *
 * - `kill-uploader`: kill -9 of the database's background uploader (the pid in its spool,
 *   a process of this run);
 * - `kill-wal-push`: kill -9 of a `wal-push` PostgreSQL's archiver is running (a
 *   descendant of this run's postmaster), the shell fast path or Node;
 * - `kill-strongbox`: kill -9 of `npm start`, restarted at once;
 * - `outage`: kill -9 of `npm start`, which stays down 5-30 s (the archive endpoint and the
 *   catalog server with it), then restarted;
 * - `freeze`: SIGSTOP of `npm start` for 5-20 s (endpoint and catalog hang, sockets open);
 * - `kill-backup` / `kill-base-backup`: `strongbox backup [--type base]` killed (its whole
 *   process group: the CLI and pg_dump / pg_basebackup) 0.3-10 s after it started;
 * - `disk-full`: the repository's filesystem filled to the last byte for 5-25 s;
 * - `storm`: 4-10 of the kills above (uploader, wal-push, npm start) 0.1-2 s apart.
 *
 * Between faults: a pause of 1-8 s. Every fault is counted by kind, with what it hit.
 */
import { execFile } from 'node:child_process';
import { readFile, rm, statfs } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { StrongboxInstance } from './instance';
import { readProc, signalOwned, type OwnedProcesses } from './procs';

const run = promisify(execFile);

/** A fault's kind, as counted in the report. */
export type FaultKind = 'kill-uploader' | 'kill-wal-push' | 'kill-strongbox' | 'outage' | 'freeze' | 'kill-backup' | 'kill-base-backup' | 'disk-full' | 'storm';

const WEIGHTS: Array<[FaultKind, number]> = [
  ['kill-uploader', 4],
  ['kill-wal-push', 4],
  ['kill-strongbox', 2],
  ['outage', 1],
  ['freeze', 1],
  ['kill-backup', 1],
  ['kill-base-backup', 1],
  ['disk-full', 1],
  ['storm', 1],
];

/** mulberry32: a small seeded generator in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Counts: faults asked for, and kills that hit a process (a kill with nothing to hit is a miss). */
export interface FaultCounts {
  injected: Record<string, number>;
  /** Processes killed with SIGKILL, by what they were. */
  killed: Record<string, number>;
  /** Faults that found nothing to hit (no wal-push running at that moment…). */
  missed: Record<string, number>;
  /** Backups killed, and those that ended before their kill came (their outcome). */
  backups: { killed: number; finishedFirst: Record<string, number> };
}

/** What the injector works on. */
export interface FaultTargets {
  instance: StrongboxInstance;
  owned: OwnedProcesses;
  /** `<home>/spool/<database>`: the uploader's pid file. */
  spool: string;
  /** Marker of this run's processes (the temporary folder). */
  marker: string;
  database: string;
  /** The repository's own small filesystem, or undefined (no disk-full faults). */
  disk?: { mount: string; ballast: string };
  progress(line: string): void;
}

/** Injects faults until `until` (epoch ms) or the signal; resolves with the counts. */
export async function injectFaults(targets: FaultTargets, random: () => number, until: number, signal: AbortSignal): Promise<FaultCounts> {
  const counts: FaultCounts = { injected: {}, killed: {}, missed: {}, backups: { killed: 0, finishedFirst: {} } };
  const bump = (map: Record<string, number>, key: string) => void (map[key] = (map[key] ?? 0) + 1);
  // The schedule (pauses, kinds) draws from `random` only; what happens inside a fault (its
  // victim, delays, durations) draws from a generator seeded per fault, so a fault that
  // draws more or fewer numbers (how many wal-push it found) does not shift the schedule.
  let inner = random;
  const draw = () => inner();
  const between = (low: number, high: number) => low + draw() * (high - low);
  const weights = WEIGHTS.filter(([kind]) => kind !== 'disk-full' || targets.disk);
  const total = weights.reduce((sum, [, w]) => sum + w, 0);
  const pick = (): FaultKind => {
    let r = random() * total;
    for (const [kind, w] of weights) if ((r -= w) < 0) return kind;
    return weights[0]![0];
  };
  const ensureUp = async () => {
    if (targets.instance.pid) return targets.instance.waitReady();
    return targets.instance.start();
  };

  const killUploader = async () => {
    const pid = Number((await readFile(`${targets.spool}/uploader.pid`, 'utf8').catch(() => '')).trim().split(' ')[0]);
    const info = Number.isInteger(pid) && pid > 1 ? await readProc(pid) : undefined;
    if (info && info.cmdline.includes(' uploader ') && info.cmdline.includes(targets.marker) && (await signalOwned(info, 'SIGKILL'))) return void bump(counts.killed, 'uploader');
    bump(counts.missed, 'kill-uploader');
  };
  const killWalPush = async () => {
    // A wal-push lives for milliseconds when the uploader is ahead: look for one for up to 3 s.
    for (let tries = 0; tries < 30; tries++) {
      const pushes = await targets.owned.find(/wal-push/);
      const victim = pushes[Math.floor(draw() * pushes.length)];
      if (victim && (await signalOwned(victim, 'SIGKILL'))) return void bump(counts.killed, victim.cmdline.includes('wal.js') ? 'wal-push (node)' : 'wal-push (shell)');
      await sleep(100);
    }
    bump(counts.missed, 'kill-wal-push');
  };
  const killStrongbox = async (wait: boolean) => {
    if (await targets.instance.kill9()) bump(counts.killed, 'npm start');
    else bump(counts.missed, 'kill-strongbox');
    if (wait) await targets.instance.start();
    else targets.instance.spawnOnly();
  };
  const killBackup = async (base: boolean) => {
    if (!(await ensureUp())) return;
    const { child, done } = targets.instance.spawnCli(['backup', '--database', targets.database, ...(base ? ['--type', 'base'] : []), '--json']);
    const delay = between(300, 10_000);
    const timer = new AbortController();
    const outcome = await Promise.race([done, sleep(delay, undefined, { signal: timer.signal }).catch(() => undefined)]);
    timer.abort();
    if (outcome) return void bump(counts.backups.finishedFirst, outcome.code === 0 ? 'ok' : `exit ${outcome.code}`);
    // The CLI leads its process group: pg_dump / pg_basebackup and zstd die with it.
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
    await done;
    counts.backups.killed++;
  };
  const diskFull = async (seconds: number) => {
    const disk = targets.disk!;
    const free = await statfs(disk.mount).then((s) => s.bavail * s.bsize);
    await run('fallocate', ['-l', String(free), disk.ballast]).catch(async () => {
      // fallocate may refuse the last blocks: fill the rest by writing.
      await run('sh', ['-c', `dd if=/dev/zero of='${disk.ballast}.2' bs=1M 2>/dev/null || true`]);
    });
    await sleep(seconds * 1000, undefined, { signal }).catch(() => undefined);
    await rm(disk.ballast, { force: true });
    await rm(`${disk.ballast}.2`, { force: true });
  };

  while (Date.now() < until && !signal.aborted) {
    const pause = 1000 + random() * 7000;
    const kind = pick();
    inner = seededRandom(Math.floor(random() * 2 ** 32));
    await sleep(pause, undefined, { signal }).catch(() => undefined);
    if (signal.aborted || Date.now() >= until) break;
    bump(counts.injected, kind);
    targets.progress(`fault ${kind}`);
    switch (kind) {
      case 'kill-uploader':
        await killUploader();
        break;
      case 'kill-wal-push':
        await killWalPush();
        break;
      case 'kill-strongbox':
        await killStrongbox(true);
        break;
      case 'outage': {
        await targets.instance.kill9();
        const seconds = between(5, 30);
        targets.progress(`  endpoint and catalog down for ${seconds.toFixed(1)} s`);
        await sleep(seconds * 1000, undefined, { signal }).catch(() => undefined);
        await targets.instance.start();
        break;
      }
      case 'freeze': {
        if (!(await ensureUp()) || !targets.instance.freeze()) {
          bump(counts.missed, 'freeze');
          break;
        }
        await sleep(between(5, 20) * 1000, undefined, { signal }).catch(() => undefined);
        targets.instance.thaw();
        break;
      }
      case 'kill-backup':
      case 'kill-base-backup':
        await killBackup(kind === 'kill-base-backup');
        break;
      case 'disk-full':
        await diskFull(between(5, 25));
        break;
      case 'storm': {
        const n = 4 + Math.floor(draw() * 7);
        for (let i = 0; i < n && !signal.aborted; i++) {
          const r = draw();
          if (r < 0.4) await killUploader();
          else if (r < 0.8) await killWalPush();
          else await killStrongbox(false);
          await sleep(between(100, 2000));
        }
        await ensureUp();
        break;
      }
    }
  }
  targets.instance.thaw();
  await ensureUp();
  return counts;
}
