/** The restore benchmark's printed report: results, Strongbox's phases beside the plain ones, the goals. */
import { markdownTable, mb, median, seconds } from '../measure';
import type { PhaseName, RestoreRun, RestoreVariant } from './variants';

/** The issue's goal for both comparisons: a Strongbox restore takes at most 1.10 × its plain equivalent. */
export const RESTORE_GOAL = 1.1;

/** What was measured for one variant over all rounds. */
export interface RestoreResult {
  variant: RestoreVariant;
  runs: RestoreRun[];
  /** CPU time of each run: this process and its reaped children (pg_restore and its workers, bash). */
  cpuMs: number[];
  /** Highest RSS of this process seen during the variant's runs (Strongbox only). */
  peakRssBytes?: number;
}

/** The phases shown, in the order they happen. */
const PHASES: ReadonlyArray<{ name: PhaseName; title: string }> = [
  { name: 'plan', title: 'plan' },
  { name: 'cleanup', title: 'lock + leftovers' },
  { name: 'download', title: 'download + SHA-256' },
  { name: 'check', title: 'check (--list)' },
  { name: 'restore', title: 'restore' },
  { name: 'hash', title: 'SHA-256 (within restore)' },
  { name: 'verify', title: 'verify counts' },
  { name: 'swap', title: 'swap' },
  { name: 'other', title: 'other' },
];

/** Median wall time of `id`'s runs, NaN when it did not run. */
export function medianMs(results: readonly RestoreResult[], id: string | undefined): number {
  const found = results.find((r) => r.variant.id === id);
  return found && found.runs.length > 0 ? median(found.runs.map((run) => run.ms)) : NaN;
}

/** The median of one phase over a variant's runs; NaN when the variant has no such phase. */
export function phaseMs(result: RestoreResult, phase: PhaseName): number {
  const values = result.runs.map((run) => run.phases[phase]).filter((v): v is number => v !== undefined);
  return values.length > 0 ? median(values) : NaN;
}

/** One row per variant: runs, median, CPU, throughput over the database's size, ratio to its plain equivalent, RSS. */
export function resultsTable(results: readonly RestoreResult[], databaseBytes: number): string {
  const rows = results.map((result) => {
    const times = result.runs.map((run) => run.ms);
    const ms = median(times);
    return [
      result.variant.label,
      times.map(seconds).join(' / '),
      seconds(ms),
      seconds(median(result.cpuMs)),
      (databaseBytes / 1e6 / (ms / 1000)).toFixed(1),
      result.variant.baseline ? ratio(ms, medianMs(results, result.variant.baseline)) : '',
      result.peakRssBytes === undefined ? '' : mb(result.peakRssBytes),
    ];
  });
  return markdownTable(['variant', 'runs (s)', 'median (s)', 'client CPU (s)', 'DB MB/s', '× plain', 'peak RSS MB'], rows);
}

/** Median seconds per phase, every variant; a cell is empty when the variant has no such phase. */
export function phasesTable(results: readonly RestoreResult[]): string {
  const shown = PHASES.filter((phase) => results.some((result) => Number.isFinite(phaseMs(result, phase.name))));
  const rows = results.map((result) => [
    result.variant.label,
    ...shown.map((phase) => {
      const ms = phaseMs(result, phase.name);
      return Number.isFinite(ms) ? seconds(ms) : '';
    }),
    seconds(medianMs(results, result.variant.id)),
  ]);
  return markdownTable(['variant', ...shown.map((phase) => phase.title), 'total'], rows);
}

/**
 * The goal line of one comparison, and where Strongbox's extra time goes: each phase the plain
 * variant does not have, and the difference between the two restore phases (noise, or the
 * scratch database's locale).
 */
export function goalLines(results: readonly RestoreResult[], strongboxId: string, what: string): string[] {
  const strongbox = results.find((r) => r.variant.id === strongboxId);
  const plain = results.find((r) => r.variant.id === strongbox?.variant.baseline);
  if (!strongbox || !plain) return [];
  const ours = medianMs(results, strongbox.variant.id);
  const theirs = medianMs(results, plain.variant.id);
  const value = ours / theirs;
  const extra = ours - theirs;
  const parts = PHASES.filter((phase) => phase.name !== 'restore' && phase.name !== 'download' && phase.name !== 'hash')
    .map((phase) => ({ title: phase.title, ms: phaseMs(strongbox, phase.name) }))
    .filter((part) => Number.isFinite(part.ms));
  // A phase both have is compared; one only Strongbox has counts whole.
  const against = (['download', 'restore'] as const)
    .filter((phase) => Number.isFinite(phaseMs(strongbox, phase)))
    .map((phase) => `${phase} ${signed(phaseMs(strongbox, phase) - (Number.isFinite(phaseMs(plain, phase)) ? phaseMs(plain, phase) : 0))} s against plain`);
  // Both restore phases run the same pg_restore: on a busy machine their difference is noise
  // that can hide Strongbox's own cost. What Strongbox adds outside it is steadier.
  const plainDownload = Number.isFinite(phaseMs(plain, 'download')) ? phaseMs(plain, 'download') : 0;
  const ownDownload = Number.isFinite(phaseMs(strongbox, 'download')) ? phaseMs(strongbox, 'download') : 0;
  const outside = ownDownload - plainDownload + parts.reduce((sum, part) => sum + part.ms, 0);
  const estimate = (theirs + outside) / theirs;
  return [
    `- ${what}: ${seconds(ours)} s vs ${seconds(theirs)} s = ${value.toFixed(3)} × (goal ≤ ${RESTORE_GOAL.toFixed(2)}: ${value <= RESTORE_GOAL ? 'met' : 'NOT met'})`,
    `  - Strongbox's extra ${seconds(extra)} s (${((extra / theirs) * 100).toFixed(1)} %): ${[...against, ...parts.map((part) => `${part.title} ${seconds(part.ms)} s`)].join(', ')}`,
    `  - outside pg_restore Strongbox adds ${seconds(outside)} s: with equal restore phases that is ${estimate.toFixed(3)} × (the restore phases differ by ${signed(phaseMs(strongbox, 'restore') - phaseMs(plain, 'restore'))} s, same pg_restore)`,
  ];
}

function ratio(ms: number, baselineMs: number): string {
  return Number.isFinite(baselineMs) && baselineMs > 0 ? (ms / baselineMs).toFixed(3) : '';
}

function signed(ms: number): string {
  return `${ms >= 0 ? '+' : ''}${seconds(ms)}`;
}
