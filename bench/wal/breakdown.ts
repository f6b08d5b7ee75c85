/**
 * Where one Strongbox push's time goes, per segment (medians over a pass): the uploader's
 * own split (reading, compressing and hashing the file; then every request until the
 * answer: `archived ahead` lines of its log), and the endpoint's time per request route
 * (its `archive request` log lines). In presign mode, the S3 PUT is what the send leaves
 * once the endpoint's prepare and complete are taken off (the client's side of it: the
 * request, s3rver's write, the answer).
 */

/** Endpoint request times, kept per database and `METHOD route`. */
export class RequestTimes {
  readonly #times = new Map<string, Map<string, number[]>>();

  /** Takes the attributes of one `archive request` log line. */
  record(attributes: Record<string, unknown>): void {
    const { database, method, route, ms } = attributes as { database?: string; method?: string; route?: string; ms?: number };
    if (!database || typeof ms !== 'number') return;
    const routes = this.#times.get(database) ?? new Map<string, number[]>();
    this.#times.set(database, routes);
    const key = `${method} ${route}`;
    routes.set(key, [...(routes.get(key) ?? []), ms]);
  }

  of(database: string): Map<string, number[]> {
    return this.#times.get(database) ?? new Map();
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)]!;
};

/** The split of one pass, as one line of text, from the uploader's log and the endpoint's request times. */
export function breakdownLine(label: string, uploaderLog: string, routes: Map<string, number[]>): string {
  const encode: number[] = [];
  const send: number[] = [];
  for (const line of uploaderLog.split('\n')) {
    if (!line.includes('"archived ahead"')) continue;
    const parsed = JSON.parse(line) as { encodeMs?: number; sendMs?: number };
    if (typeof parsed.encodeMs === 'number') encode.push(parsed.encodeMs);
    if (typeof parsed.sendMs === 'number') send.push(parsed.sendMs);
  }
  // The uploader's peak RSS, from its exit line (idle exit, or stopped by the bench).
  const peakKiB = Math.max(0, ...uploaderLog.split('\n').map((line) => Number(/"maxRssKiB":(\d+)/.exec(line)?.[1] ?? 0)));
  const cpuMs = Math.max(0, ...uploaderLog.split('\n').map((line) => Number(/"cpuMs":(\d+)/.exec(line)?.[1] ?? 0)));
  const cpu = cpuMs > 0 && encode.length > 0 ? `, CPU ${(cpuMs / encode.length).toFixed(1)} ms per push (start-up included)` : '';
  const parts = [`uploader: ${encode.length} pushes, read+compress+hash ${median(encode)} ms, send ${median(send)} ms${peakKiB > 0 ? `, peak RSS ${(peakKiB / 1024).toFixed(1)} MiB` : ''}${cpu}`];
  for (const [route, ms] of [...routes].sort()) parts.push(`endpoint ${route}: ${ms.length} × ${median(ms)} ms`);
  const prepare = median(routes.get('POST wal') ?? []);
  const complete = median(routes.get('POST complete') ?? []);
  if (!Number.isNaN(prepare) && !Number.isNaN(complete)) parts.push(`S3 PUT as the client sees it ≈ ${(median(send) - prepare - complete).toFixed(0)} ms`);
  return `- ${label} (medians per segment): ${parts.join('; ')}`;
}
