import type { Log } from '../ports';

/**
 * A structured log for local mode and the CLI: one JSON object per line on stderr
 * (time, level, message, keys). `enabled` is false for a CLI not on a terminal, so that
 * scripts see only their `--json` output and errors.
 */
export function stderrLog(enabled: boolean, write: (line: string) => void = (line) => process.stderr.write(line)): Log {
  const emit = (level: string) => (message: string, attributes?: Record<string, unknown>) => {
    if (!enabled) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...attributes })}\n`);
  };
  return { info: emit('INFO'), warn: emit('WARN'), error: emit('ERROR') };
}
