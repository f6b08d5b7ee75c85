import { describe, expect, it } from 'vitest';
import { progressPrinter } from '../../shared/cli/commands/backup';
import type { Output } from '../../shared/cli/output';

function output(interactive: boolean, json = false): Output & { err: string[] } {
  const err: string[] = [];
  return { json, interactive, err, stdout: () => undefined, stderr: (text) => void err.push(text) };
}

describe('backup progress', () => {
  it('in a terminal: bytes, rate and database size on one rewritten stderr line, throttled', () => {
    const out = output(true);
    const report = progressPrinter(out, 'app')!;
    report({ bytes: 1_000_000, elapsedMs: 300, databaseSizeBytes: 50_000_000 });
    report({ bytes: 1_100_000, elapsedMs: 350, databaseSizeBytes: 50_000_000 }); // too soon: skipped
    report({ bytes: 4_000_000, elapsedMs: 1_000, databaseSizeBytes: 50_000_000 });
    expect(out.err).toEqual([
      '\rapp: 1.0 MB written, 3.3 MB/s (database 50.0 MB on disk)   ',
      '\rapp: 4.0 MB written, 4.0 MB/s (database 50.0 MB on disk)   ',
    ]);
  });

  it('prints nothing when stderr is not a terminal, or with --json', () => {
    expect(progressPrinter(output(false), 'app')).toBeUndefined();
    expect(progressPrinter(output(true, true), 'app')).toBeUndefined();
  });
});
