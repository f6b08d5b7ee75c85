/**
 * The live measurement: the real cluster archiving through a given archive_command while
 * pgbench, then bulk INSERTs, write WAL; pg_stat_archiver and pg_ls_archive_statusdir()
 * are sampled every 200 ms to follow each segment from its `.ready` (created when the
 * segment is finished) to PostgreSQL's acknowledgement (`.ready` gone): the archive lag.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { connectClient } from '../../shared/adapters/postgres/client';
import type { LocalCluster } from '../../shared/adapters/postgres/cluster';
import { toolEnv } from '../../shared/adapters/postgres/tool-stream';
import { BULK_INSERT_SQL } from './source';

/** How often the archiver's state is sampled; a lag is known to within this. */
export const SAMPLE_MS = 200;

/** What one load phase produced and how archiving kept up. */
export interface PhaseResult {
  phase: 'pgbench' | 'bulk INSERT';
  seconds: number;
  /** WAL written during the phase, in segments (LSN difference / segment size). */
  walSegments: number;
  /** Lag of each segment finished during the phase, s (ready → acknowledged), ascending. */
  lags: number[];
  /** Most `.ready` files seen at once. */
  maxQueue: number;
}

/** A whole live run. */
export interface LiveResult {
  phases: PhaseResult[];
  /** From the end of the load until no `.ready` was left, s. */
  drainSeconds: number;
  /** failed_count growth (archive_command failures PostgreSQL retried). */
  failures: number;
}

/** Sets archive_command (reloads) after waiting for PostgreSQL to be idle. */
export async function setArchiveCommand(cluster: LocalCluster, command: string): Promise<void> {
  await cluster.psql(`ALTER SYSTEM SET archive_command = '${command.replace(/'/g, "''")}'; SELECT pg_reload_conf();`);
  // The archiver reads the new value at its next loop; give it one.
  await sleep(300);
}

/** `pgbench -i -s <scale>` with archiving off (archive_command `true`), the queue emptied after. */
export async function initPgbench(cluster: LocalCluster, scale: number): Promise<void> {
  await setArchiveCommand(cluster, 'true');
  await runTool('pgbench', ['-i', '-q', '-s', String(scale), '--no-vacuum'], cluster);
  await cluster.psql('VACUUM ANALYZE; CHECKPOINT; SELECT pg_switch_wal();');
  await waitForEmptyQueue(cluster, 120_000);
}

/**
 * Runs the load through `command`: pgbench -c 4 for `pgbenchSeconds`, then one session of
 * bulk INSERTs for `bulkSeconds`, then waits (up to `drainLimitSeconds`) for the queue to
 * empty. Leaves archive_command at `true` afterwards.
 *
 * @throws Error when pgbench or an INSERT fails, or the queue does not drain in time.
 */
export async function runLive(
  cluster: LocalCluster,
  command: string,
  options: { pgbenchSeconds: number; bulkSeconds: number; segmentBytes: number; drainLimitSeconds?: number; signal?: AbortSignal },
): Promise<LiveResult> {
  await setArchiveCommand(cluster, command);
  const sampler = await startSampler(cluster, options.segmentBytes);
  try {
    const phases: PhaseResult[] = [];
    const measure = async (phase: PhaseResult['phase'], work: () => Promise<void>) => {
      const from = await sampler.now();
      await work();
      const to = await sampler.now();
      phases.push({ phase, seconds: to.at - from.at, walSegments: (to.lsn - from.lsn) / options.segmentBytes, lags: [], maxQueue: 0 });
      return { from: from.at, to: to.at };
    };
    const windows = [
      await measure('pgbench', () => runTool('pgbench', ['-n', '-c', '4', '-j', '2', '-T', String(options.pgbenchSeconds)], cluster, options.signal)),
      await measure('bulk INSERT', () => bulkInserts(cluster, options.bulkSeconds, options.signal)),
    ];
    const loadEnded = performance.now();
    const limit = (options.drainLimitSeconds ?? 300) * 1000;
    await waitForEmptyQueue(cluster, limit, options.signal);
    const drainSeconds = (performance.now() - loadEnded) / 1000;
    const observed = await sampler.stop();
    for (const [index, window] of windows.entries()) {
      const phase = phases[index] as PhaseResult;
      phase.lags = observed.lags.filter((l) => l.readyAt >= window.from && l.readyAt < window.to).map((l) => l.lag).sort((a, b) => a - b);
      phase.maxQueue = Math.max(0, ...observed.queue.filter((q) => q.at >= window.from && q.at <= window.to).map((q) => q.count));
    }
    return { phases, drainSeconds, failures: observed.failures };
  } finally {
    await sampler.stop().catch(() => undefined);
    await setArchiveCommand(cluster, 'true').catch(() => undefined);
  }
}

interface Sample {
  at: number;
  lsn: number;
  failed: number;
  ready: Map<string, number>;
}

interface Sampler {
  now(): Promise<Sample>;
  stop(): Promise<{ lags: Array<{ readyAt: number; lag: number }>; queue: Array<{ at: number; count: number }>; failures: number }>;
}

const SAMPLE_SQL = `SELECT extract(epoch FROM clock_timestamp())::float8 AS at, (pg_current_wal_lsn() - '0/0')::float8 AS lsn, failed_count AS failed,
  coalesce((SELECT string_agg(name || ' ' || extract(epoch FROM modification)::float8, ',') FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'), '') AS ready
  FROM pg_stat_archiver`;

/**
 * Samples every SAMPLE_MS on its own connection. A segment's lag is the sample time at which
 * its `.ready` was first seen gone minus the `.ready`'s mtime: an upper bound, within one
 * interval. A segment never seen `.ready` was archived within one interval and counts as that.
 */
async function startSampler(cluster: LocalCluster, segmentBytes: number): Promise<Sampler> {
  const client = await connectClient(cluster.connection());
  const take = async (): Promise<Sample> => {
    const row = (await client.query<{ at: number; lsn: number; failed: string; ready: string }>(SAMPLE_SQL)).rows[0]!;
    const ready = new Map<string, number>();
    for (const item of row.ready ? row.ready.split(',') : []) {
      const [file = '', mtime = ''] = item.split(' ');
      ready.set(file.slice(0, -'.ready'.length), Number(mtime));
    }
    return { at: Number(row.at), lsn: Number(row.lsn), failed: Number(row.failed), ready };
  };
  const first = await take();
  let last = first;
  const lags: Array<{ readyAt: number; lag: number }> = [];
  const queue: Array<{ at: number; count: number }> = [];
  let seen = new Set(first.ready.keys());
  const absorb = (sample: Sample) => {
    for (const [name, mtime] of last.ready) if (!sample.ready.has(name)) lags.push({ readyAt: mtime, lag: sample.at - mtime });
    // Segments finished and archived between two samples: their lag is under one interval.
    const finished = Math.floor(sample.lsn / segmentBytes) - Math.floor(last.lsn / segmentBytes);
    const newlySeen = [...sample.ready.keys()].filter((name) => !seen.has(name)).length;
    for (let i = 0; i < finished - newlySeen; i++) lags.push({ readyAt: sample.at - SAMPLE_MS / 2000, lag: SAMPLE_MS / 1000 });
    seen = new Set([...seen, ...sample.ready.keys()]);
    queue.push({ at: sample.at, count: sample.ready.size });
    last = sample;
  };
  let running = true;
  let busy: Promise<void> = Promise.resolve();
  const loop = (async () => {
    while (running) {
      await sleep(SAMPLE_MS);
      if (!running) break;
      busy = take().then(absorb);
      await busy;
    }
  })();
  let stopped: ReturnType<Sampler['stop']> | undefined;
  return {
    async now() {
      await busy;
      const sample = await take();
      absorb(sample);
      return sample;
    },
    stop: () =>
      (stopped ??= (async () => {
        running = false;
        await loop.catch(() => undefined);
        await client.end().catch(() => undefined);
        return { lags, queue, failures: last.failed - first.failed };
      })()),
  };
}

async function bulkInserts(cluster: LocalCluster, seconds: number, signal?: AbortSignal): Promise<void> {
  const client: pg.Client = await connectClient(cluster.connection());
  try {
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      signal?.throwIfAborted();
      await client.query(BULK_INSERT_SQL);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function waitForEmptyQueue(cluster: LocalCluster, limitMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = performance.now() + limitMs;
  for (;;) {
    signal?.throwIfAborted();
    const ready = Number((await cluster.psql("SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready';")).trim());
    if (ready === 0) return;
    if (performance.now() > deadline) throw new Error(`${ready} WAL files still wait to be archived after ${Math.round(limitMs / 1000)} s`);
    await sleep(SAMPLE_MS);
  }
}

/** Runs a client tool (pgbench) against the cluster; rejects with its stderr on failure. */
function runTool(command: string, args: string[], cluster: LocalCluster, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: toolEnv(cluster.connection()), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-2000)));
    const onAbort = () => child.kill('SIGTERM');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', reject);
    child.once('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return reject(signal.reason);
      if (code === 0) return resolve();
      reject(new Error(`${command} ${args.join(' ')} failed (${sig ?? `exit ${code}`}): ${stderr.trim()}`));
    });
  });
}
