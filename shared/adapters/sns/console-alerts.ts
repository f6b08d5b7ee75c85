import { boundAlert } from '../../domain/alerts/bounded';
import { alertTerminalText } from '../../domain/alerts/terminal-text';
import type { Alert, AlertPublisher } from '../../ports';

/** How the console shows an alert: `json` (one `ALERT {…}` line, for scripts and log files) or `human` (a terminal). */
export type ConsoleAlertFormat = 'json' | 'human';

/**
 * Local mode's alert publisher: each alert on the given stream (stderr by default) — one
 * structured `ALERT {…}` line, or with `human` (stderr is a terminal) the severity, type,
 * message and hint as a person reads them — and every alert kept in `published` for whoever
 * embeds it.
 */
export class ConsoleAlertPublisher implements AlertPublisher {
  readonly published: Alert[] = [];

  constructor(
    private readonly write: (line: string) => void = (line) => process.stderr.write(line),
    private readonly format: ConsoleAlertFormat = 'json',
  ) {}

  async publish(raised: Alert): Promise<void> {
    this.published.push(raised);
    // What is written is bounded (a log line a person can read); `published` keeps it whole.
    const alert = boundAlert(raised);
    try {
      this.write(this.format === 'human' ? alertTerminalText(alert) : `ALERT ${JSON.stringify(alert)}\n`);
    } catch {
      // An alert must never crash its caller, not even when stderr is gone.
    }
  }
}
