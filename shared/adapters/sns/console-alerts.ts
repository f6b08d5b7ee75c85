import type { Alert, AlertPublisher } from '../../ports';

/**
 * Local mode's alert publisher: one structured line per alert on the given stream
 * (stderr by default), and every alert kept in `published` for whoever embeds it.
 */
export class ConsoleAlertPublisher implements AlertPublisher {
  readonly published: Alert[] = [];

  constructor(private readonly write: (line: string) => void = (line) => process.stderr.write(line)) {}

  async publish(alert: Alert): Promise<void> {
    this.published.push(alert);
    try {
      this.write(`ALERT ${JSON.stringify(alert)}\n`);
    } catch {
      // An alert must never crash its caller, not even when stderr is gone.
    }
  }
}
