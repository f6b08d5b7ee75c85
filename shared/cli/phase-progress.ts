import { formatBytes, type Output } from './output';

/**
 * In a terminal: one self-overwriting stderr line with the phase of a restore or drill and,
 * while downloading, the bytes read (at most 4 updates a second). Nothing otherwise.
 */
export function phaseProgressPrinter(out: Output, label: string): ((progress: { phase: string; bytes?: number; totalBytes?: number }) => void) | undefined {
  if (!out.interactive || out.json) return undefined;
  let last = 0;
  return ({ phase, bytes, totalBytes }) => {
    const now = Date.now();
    if (phase === 'download' && bytes !== undefined && now - last < 250 && bytes !== totalBytes) return;
    last = now;
    const detail = bytes !== undefined ? ` ${formatBytes(bytes)} of ${formatBytes(totalBytes ?? 0)}` : '';
    out.stderr(`\r${label}: ${phase}${detail}`.padEnd(60));
  };
}
