/**
 * bench:drill `--profile`: where the replay's time goes. Each variant's restore_command is
 * wrapped in a small sh script that logs, per call, the file asked for, its wall time and
 * what the prefetcher had ready when PostgreSQL asked (the file itself, its `.part` being
 * written, nothing). The startup process waits on every call, so the replay splits into
 * **waiting on restore_command** (the sum of the calls) and **replaying** (the rest). The
 * machine's CPU busy share during the replay comes from /proc/stat, and the prefetcher's own
 * CPU from /proc/<pid>/stat while it still runs. The wrapper's two `date` calls cost a few ms
 * per segment, the same for both variants: profile runs are not the runs the ratio is quoted from.
 */
import { readFileSync } from 'node:fs';
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { median } from '../measure';
import { chownToServer } from '../wal/source';

const CLOCK_TICKS_PER_SECOND = 100;

/** One restore_command call as the wrapper logged it. */
export interface RestoreCall {
  name: string;
  ms: number;
  exit: number;
  /** What the spool held when the call began: the file, its `.part`, nothing ('-' without a spool). */
  state: 'ready' | 'part' | 'none' | '-';
}

/** The split of one replay. */
export interface ReplayProfile {
  calls: number;
  segments: number;
  /** Sum of the calls' wall time, s. */
  waitSeconds: number;
  byState: Record<string, { count: number; medianMs: number; sumMs: number }>;
  /** Machine CPU busy share during the replay (0–1 of all CPUs). */
  cpuBusy: number;
  /** The prefetcher's CPU seconds (user + system), when it still ran at the pause. */
  prefetcherCpuSeconds?: number;
  /** CPU seconds of the recovering server (all its processes) and of its startup process, at the pause. */
  server?: { all: number; startup: number } | undefined;
  /** CPU seconds of the benchmark process (the archive endpoint, the drill's polling). */
  benchCpuSeconds?: number;
  /** The calls for other files than segments, and those the prefetcher had not ready (with their place in the sequence). */
  others: string[];
}

/** Writes the wrapper into `dir`: `restore-profile LOG SPOOL %f %p COMMAND…` runs COMMAND and appends a line to LOG. */
export async function writeProfileWrapper(dir: string): Promise<string> {
  const path = join(dir, 'restore-profile');
  await writeFile(
    path,
    `#!/bin/sh
log="$1"; spool="$2"; f="$3"; shift 4
state=-
if [ "$spool" != - ]; then
  if [ -f "$spool/in/$f" ]; then state=ready; elif [ -f "$spool/in/$f.part" ]; then state=part; else state=none; fi
fi
t0=$(date +%s%N)
"$@"
rc=$?
t1=$(date +%s%N)
echo "$f $t0 $t1 $rc $state" >> "$log"
exit $rc
`,
  );
  await chmod(path, 0o755);
  await chownToServer(path);
  return path;
}

/** The restore_command that runs `command` (already holding %f / %p) through the wrapper, logging into `log`. */
export async function profiledCommand(wrapper: string, log: string, spool: string | undefined, command: string): Promise<string> {
  await writeFile(log, '');
  await chownToServer(log);
  return `${wrapper} ${log} ${spool ?? '-'} %f %p ${command}`;
}

/** Machine-wide CPU jiffies: [busy, total]. */
export function cpuJiffies(): [number, number] {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return [total - idle, total];
}

/** CPU seconds (user + system) of the process whose pid the first word of `pidFile` names, or undefined. */
export async function cpuSecondsOf(pidFile: string): Promise<number | undefined> {
  const pid = (await readFile(pidFile, 'utf8').catch(() => '')).trim().split(' ')[0];
  if (!pid) return undefined;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** CPU seconds of the server running on `dataDir` and its children, and of its startup process alone (undefined when it is not running). */
export async function serverCpuOf(dataDir: string): Promise<{ all: number; startup: number } | undefined> {
  const postmaster = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (!postmaster) return undefined;
  let all = 0;
  let startup = 0;
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pid) !== postmaster && Number(fields[1]) !== postmaster) continue;
    const seconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
    all += seconds;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.startsWith('postgres: startup')) startup = seconds;
  }
  return { all, startup };
}

/** Reads the wrapper's log into a split. */
export async function readProfile(log: string, cpu: { from: [number, number]; to: [number, number]; pausedAtMs?: number }, extra: Pick<ReplayProfile, 'prefetcherCpuSeconds' | 'server' | 'benchCpuSeconds'> = {}): Promise<ReplayProfile> {
  const lines = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  // Only the calls of the replay: promotion (for pg_amcheck) probes history files afterwards.
  const calls: RestoreCall[] = lines
    .map((line) => line.split(' '))
    .filter(([, t0]) => cpu.pausedAtMs === undefined || Number(t0) / 1e6 <= cpu.pausedAtMs)
    .map(([name, t0, t1, exit, state]) => ({ name: name!, ms: (Number(t1) - Number(t0)) / 1e6, exit: Number(exit), state: state as RestoreCall['state'] }));
  const byState: ReplayProfile['byState'] = {};
  for (const state of new Set(calls.map((c) => `${c.state}${c.exit === 0 ? '' : ` exit ${c.exit}`}`))) {
    const ms = calls.filter((c) => `${c.state}${c.exit === 0 ? '' : ` exit ${c.exit}`}` === state).map((c) => c.ms);
    byState[state] = { count: ms.length, medianMs: median(ms), sumMs: ms.reduce((a, b) => a + b, 0) };
  }
  const [busy, total] = [cpu.to[0] - cpu.from[0], cpu.to[1] - cpu.from[1]];
  return {
    calls: calls.length,
    segments: calls.filter((c) => /^[0-9A-F]{24}$/.test(c.name) && c.exit === 0).length,
    waitSeconds: calls.reduce((a, c) => a + c.ms, 0) / 1000,
    byState,
    cpuBusy: total > 0 ? busy / total : 0,
    ...extra,
    others: calls.flatMap((c, i) => (!/^[0-9A-F]{24}$/.test(c.name) || c.state === 'none' || c.state === 'part' ? [`#${i + 1} ${c.name} ${c.state} exit ${c.exit} ${c.ms.toFixed(0)} ms`] : [])),
  };
}

/** One line per variant's replay for the report. */
export function describeProfile(label: string, replaySeconds: number, profile: ReplayProfile): string {
  const states = Object.entries(profile.byState)
    .map(([state, s]) => `${state}: ${s.count} × median ${s.medianMs.toFixed(1)} ms (sum ${(s.sumMs / 1000).toFixed(2)} s)`)
    .join('; ');
  const prefetcher = profile.prefetcherCpuSeconds !== undefined ? `; prefetcher CPU ${profile.prefetcherCpuSeconds.toFixed(2)} s` : '';
  const server = profile.server ? `; server CPU ${profile.server.all.toFixed(2)} s (startup process ${profile.server.startup.toFixed(2)} s)` : '';
  const bench = profile.benchCpuSeconds !== undefined ? `; benchmark process CPU ${profile.benchCpuSeconds.toFixed(2)} s` : '';
  const others = profile.others.length > 0 ? `; not ready or not segments: ${profile.others.join(', ')}` : '';
  return `- ${label}: replay ${replaySeconds.toFixed(2)} s = waiting on restore_command ${profile.waitSeconds.toFixed(2)} s (${profile.calls} calls, ${profile.segments} segments; ${states}) + replaying ${(replaySeconds - profile.waitSeconds).toFixed(2)} s; machine CPU busy ${(profile.cpuBusy * 100).toFixed(0)} %${prefetcher}${server}${bench}${others}`;
}
