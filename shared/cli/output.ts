import { exitCodeOf } from '../error-codes';
import { asStrongboxError, StrongboxError } from '../errors';
import { stderrLines } from './stderr-lines';

/** Exit codes of every command (DESIGN.md, CLI conventions); a failure's comes from its code's registry entry. */
export const EXIT_CODE = { ok: 0, failed: exitCodeOf('UNEXPECTED'), usage: exitCodeOf('USAGE_INVALID') } as const;

/** Raised for a usage error (bad flags, a missing --yes without a terminal): code USAGE_INVALID, exit 2. */
export class UsageError extends StrongboxError {
  constructor(message: string, hint: string) {
    super('USAGE_INVALID', message, hint);
  }
}

export interface Output {
  json: boolean;
  /** stderr is a terminal: progress and logs may be shown. */
  interactive: boolean;
  stdout(text: string): void;
  /**
   * Writes to stderr. A text that starts with `\r` and holds no newline redraws the progress
   * line; any other text ends an open progress line first (stderr-lines.ts), so that a log
   * line or an alert never lands on the end of one.
   */
  stderr(text: string): void;
  /** Ends the progress line if one is open (see endProgress); absent: a newline is written. */
  endProgress?(): void;
}

/** The process's own streams. */
export function processOutput(json: boolean): Output {
  const stderr = stderrLines((text) => process.stderr.write(text));
  return {
    json,
    interactive: Boolean(process.stderr.isTTY),
    stdout: (text) => process.stdout.write(text),
    stderr: stderr.write,
    endProgress: stderr.endProgress,
  };
}

/** Ends a command's progress line once its work is done (a newline unless it is ended already). */
export function endProgress(out: Output): void {
  if (out.endProgress) out.endProgress();
  else out.stderr('\n');
}

/** Prints a command's result: one JSON document with --json, the human text otherwise. */
export function printResult(out: Output, value: unknown, human: string): void {
  if (out.json) out.stdout(`${JSON.stringify(value, null, 2)}\n`);
  else out.stdout(human.endsWith('\n') ? human : `${human}\n`);
}

/**
 * Prints a failure (message and hint on stderr; with --json also `{"error": …}` on
 * stdout) and returns the exit code its code's registry entry gives: 2 for USAGE_INVALID,
 * 1 otherwise (shared/error-codes.ts).
 */
export function printFailure(out: Output, error: unknown): number {
  const failure = asStrongboxError(error);
  out.stderr(`strongbox: ${failure.message}\nHINT: ${failure.hint}\n`);
  if (out.json) out.stdout(`${JSON.stringify({ error: failure.toJSON() }, null, 2)}\n`);
  return exitCodeOf(failure.code);
}

/** Bytes for humans: 1.5 MB, 320 kB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** How main.ts runs a command's action: output conventions, failure printing, exit code. */
export type CommandRunner = (action: (out: Output) => Promise<number>, json: boolean) => Promise<void>;
