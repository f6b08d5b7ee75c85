import type { Log } from '../../ports';

/**
 * Posts JSON to a Slack incoming webhook (or any Slack-compatible one). Each attempt has
 * its own timeout; network errors, timeouts, 429 and 5xx answers are retried with
 * exponential backoff, other answers (400 invalid_payload, 403, 404 no_service) are
 * final. The URL is a secret (whoever has it can post): it is never logged, only its host.
 */

/** Tuning of the client; the defaults fit a 30 s Lambda (3 × 5 s + 1.5 s of backoff). */
export interface SlackWebhookOptions {
  /** Per attempt, in ms. Default 5000. */
  timeoutMs?: number;
  /** Attempts in all. Default 3. */
  attempts?: number;
  /** Delay before the second attempt, doubled after each; default 500 ms. */
  backoffMs?: number;
  /** Upper bound of one delay, Retry-After included; default 5000 ms. */
  maxBackoffMs?: number;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** What became of a post. */
export type WebhookOutcome =
  | { delivered: true; attempts: number; status: number }
  | { delivered: false; attempts: number; reason: string };

type Attempt = { ok: true; status: number } | { ok: false; retry: boolean; reason: string; retryAfterMs?: number };

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid URL)';
  }
}

/** A Slack webhook client. `post` never throws: a failure is an outcome, and logged. */
export class SlackWebhookClient {
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly log: Log,
    options: SlackWebhookOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.attempts = Math.max(1, options.attempts ?? 3);
    this.backoffMs = options.backoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 5_000;
    this.sleep = options.sleep ?? defaultSleep;
  }

  /** Posts `body` as JSON to `url`, retrying what can succeed later. */
  async post(url: string, body: unknown): Promise<WebhookOutcome> {
    const host = hostOf(url);
    const payload = JSON.stringify(body);
    let delay = this.backoffMs;
    let last: Attempt = { ok: false, retry: false, reason: 'not attempted' };
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      last = await this.attempt(url, payload);
      if (last.ok) {
        if (attempt > 1) this.log.info('slack webhook delivered after retries', { host, attempts: attempt });
        return { delivered: true, attempts: attempt, status: last.status };
      }
      const final = !last.retry || attempt === this.attempts;
      this.log.warn('slack webhook attempt failed', { host, attempt, reason: last.reason, final });
      if (final) return { delivered: false, attempts: attempt, reason: last.reason };
      await this.sleep(Math.min(last.retryAfterMs ?? delay, this.maxBackoffMs));
      delay *= 2;
    }
    return { delivered: false, attempts: this.attempts, reason: last.ok ? 'unreachable' : last.reason };
  }

  private async attempt(url: string, payload: string): Promise<Attempt> {
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') return { ok: false, retry: true, reason: `no answer within ${this.timeoutMs} ms` };
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      return { ok: false, retry: true, reason: `request failed: ${cause ?? (error as Error).message}` };
    }
    // Read the body in every case: it frees the connection, and Slack says why in it.
    const text = await response.text().catch(() => '');
    if (response.ok) return { ok: true, status: response.status };
    const reason = `HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
    if (response.status === 429) {
      const seconds = Number(response.headers.get('retry-after'));
      return { ok: false, retry: true, reason, ...(Number.isFinite(seconds) && seconds > 0 ? { retryAfterMs: seconds * 1000 } : {}) };
    }
    return { ok: false, retry: response.status >= 500, reason };
  }
}
