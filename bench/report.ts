/** The backup benchmark's printed report: the machine, the results table, the phases, the ratios. */
import { execFile } from 'node:child_process';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { promisify } from 'node:util';
import { toolVersion } from '../shared/adapters/postgres/tools';
import { markdownTable, mb, median, seconds } from './measure';
import type { Phases } from './strongbox';

/** What was measured for one variant over all rounds. */
export interface VariantResult {
  id: string;
  label: string;
  /** Wall time of each run, in ms, in the order they ran. */
  times: number[];
  /** CPU time of each run, this process and its reaped children (see cpuTimeMs), in ms. */
  cpuMs: number[];
  /** Output size: stored object(s) for Strongbox, counted in the warm-up for a plain pipeline. */
  bytes?: number;
  /** Highest RSS of this process seen during the variant's runs (Strongbox only). */
  peakRssBytes?: number;
  phases: Phases[];
  /** The id of the plain pipeline this variant does the work of. */
  baseline?: string;
}

/** Lines describing the machine and the tools' versions. */
export async function describeMachine(serverVersion: string): Promise<string[]> {
  const zstd = await promisify(execFile)('zstd', ['--version']).then(({ stdout }) => /v(\d+\.\d+\.\d+)/.exec(stdout)?.[1] ?? '?', () => 'missing');
  return [
    `- date: ${new Date().toISOString()}`,
    `- machine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}`,
    `- node ${process.version}, pg_dump ${await toolVersion('pg_dump')}, PostgreSQL server ${serverVersion}, zstd ${zstd}`,
  ];
}

/** The results table: medians, throughput over the database's size, sizes, ratios and memory. */
export function resultsTable(results: VariantResult[], databaseBytes: number, reference: string): string {
  const medianOf = (id: string | undefined) => {
    const found = results.find((r) => r.id === id);
    return found ? median(found.times) : NaN;
  };
  const rows = results.map((result) => {
    const ms = median(result.times);
    return [
      result.label,
      result.times.map(seconds).join(' / '),
      seconds(ms),
      seconds(median(result.cpuMs)),
      ((databaseBytes / 1_000_000) / (ms / 1000)).toFixed(1),
      result.bytes === undefined ? '' : mb(result.bytes),
      ratio(ms, medianOf(reference)),
      result.baseline ? ratio(ms, medianOf(result.baseline)) : '',
      result.peakRssBytes === undefined ? '' : mb(result.peakRssBytes),
    ];
  });
  return markdownTable(['variant', 'runs (s)', 'median (s)', 'client CPU (s)', 'DB MB/s', 'stored MB', '× pg_dump -Fc', '× own baseline', 'peak RSS MB'], rows);
}

/** Median milestones of each Strongbox variant, in seconds from the start of the backup. */
export function phasesTable(results: VariantResult[]): string {
  const rows = results
    .filter((result) => result.phases.length > 0)
    .map((result) => {
      const at = (pick: (p: Phases) => number) => seconds(median(result.phases.map(pick)));
      return [
        result.label,
        at((p) => p.snapshot),
        at((p) => p.countRows),
        at((p) => p.dumpExited),
        at((p) => p.dumpStored),
        at((p) => p.manifestStored),
        seconds(median(result.times)),
      ];
    });
  return markdownTable(['variant', 'snapshot open', 'row counts took', 'pg_dump exited', 'dump stored', 'manifest stored', 'VERIFIED'], rows);
}

function ratio(ms: number, baselineMs: number): string {
  return Number.isFinite(baselineMs) && baselineMs > 0 ? `${(ms / baselineMs).toFixed(3)}` : '';
}
