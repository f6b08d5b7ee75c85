import { asStrongboxError } from '../errors';

/**
 * One JSON line per event on stderr: PostgreSQL copies a command's stderr into its server
 * log, and the uploader's / prefetcher's stderr is their log file in the spool.
 */

export type LogFields = Record<string, string | number | boolean | undefined>;

/** Writes one log line synchronously (the process may exit right after). */
export function logLine(level: 'info' | 'warn' | 'error', message: string, fields: LogFields = {}): void {
  const line = JSON.stringify({ time: new Date().toISOString(), level, source: 'strongbox-wal', message, ...fields });
  try {
    process.stderr.write(`${line}\n`);
  } catch {
    // A closed stderr must not turn a success into a failure.
  }
}

/** Logs an error with its stable code and hint. */
export function logError(error: unknown, fields: LogFields = {}): void {
  const known = asStrongboxError(error);
  logLine('error', known.message, { ...fields, code: known.code, hint: known.hint });
}

/** This process's peak RSS and CPU time so far, for its exit line (the benchmark reads them). */
export function processUsage(): { maxRssKiB: number; cpuMs: number } {
  const used = process.resourceUsage();
  return { maxRssKiB: used.maxRSS, cpuMs: Math.round((used.userCPUTime + used.systemCPUTime) / 1000) };
}
