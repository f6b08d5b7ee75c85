/** Small measuring tools of the benchmarks: medians, the peak RSS sampler, text tables. */
import { readFileSync } from 'node:fs';

/**
 * The median of `values` (the mean of the two middle ones for an even count).
 *
 * @throws Error when `values` is empty.
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** A running RSS sampler; stop() returns the highest RSS seen, in bytes. */
export interface RssSampler {
  stop(): number;
}

/**
 * Samples this process's resident set size every `intervalMs` (100 ms by default) until
 * stopped. A 100 ms sampler can miss a shorter spike; the bound it reports is the one an
 * operator's monitoring would see.
 */
export function sampleRss(intervalMs = 100): RssSampler {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage.rss());
    },
  };
}

/** Renders rows as a Markdown table (which also reads well in a terminal); `|` in a cell is escaped. */
export function markdownTable(header: readonly string[], body: ReadonlyArray<readonly string[]>): string {
  const rows = body.map((row) => row.map((cell) => cell.replace(/\|/g, '\\|')));
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** Bytes as MB (10^6), one decimal. */
export function mb(bytes: number): string {
  return (bytes / 1_000_000).toFixed(1);
}

/** Milliseconds as seconds, two decimals. */
export function seconds(ms: number): string {
  return (ms / 1000).toFixed(2);
}

/** Linux's USER_HZ: /proc reports CPU times in these ticks (100 on every mainstream architecture). */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time used so far by this process plus its children that have exited and been
 * reaped (pg_dump, zstd, bash…), in ms, from /proc/self/stat. On a noisy shared machine
 * the wall time wanders; the CPU a pipeline burns does much less. Long-lived children
 * (s3rver) count only once they exit, and the PostgreSQL server never does.
 *
 * @throws Error when /proc/self/stat cannot be read (not Linux).
 */
export function cpuTimeMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  // The command name (field 2) may hold spaces; the fields after it are plain numbers.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index] ?? NaN), 0);
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}
