import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { StrongboxError } from '../errors';
import { ArchiveClient, isRetryable } from './client';
import type { CodecOptions } from './codec';
import type { HostConfig } from './config';
import { fetchToFile, moveWhole } from './fetch-file';
import { logError } from './log';
import { parseAnyWalName } from './push-file';
import { ensureBackground, exists, lockHolder, sleep } from './spool';
import { inboxPath, wantPath } from './spool-protocol';

/**
 * `wal-fetch %f %p`, PostgreSQL's restore_command. Exit codes matter more than anywhere:
 * 1 tells PostgreSQL "not archived" (the end of WAL: recovery may end and promote), so it
 * is answered only when the endpoint says WAL_NOT_FOUND; any other trouble is retried and
 * then reported as exit 200, which stops recovery instead.
 */

/** How a wal-fetch ended without error: `not-found` is the only outcome that maps to exit 1. */
export type WalFetchResult = 'fetched' | 'prefetched' | 'not-found';

/** Options for tests. */
export interface WalFetchOptions {
  client?: ArchiveClient;
  codec?: CodecOptions;
  /** The script the prefetcher runs from (default: this process's entry). */
  entry?: string;
  /** Start the prefetcher after a segment was fetched (default: when config.fetch.prefetch > 0). */
  prefetch?: boolean;
  /** Told about each downloaded chunk. */
  onChunk?: (received: number) => void;
}

/**
 * Restores archived `name` to `targetPath` (relative to `cwd`, the data directory), from
 * the prefetched `<spool>/in/` when it is there, else from the endpoint with retries.
 * Resolves `not-found` only on WAL_NOT_FOUND; throws StrongboxError for anything that
 * persisted through `config.fetch.attempts` tries (the entry point exits 200).
 */
export async function walFetch(name: string, targetPath: string, config: HostConfig, cwd: string, options: WalFetchOptions = {}): Promise<WalFetchResult> {
  const parsed = parseAnyWalName(name);
  const target = resolve(cwd, targetPath);
  const prefetching = parsed.kind === 'segment' && config.fetch.prefetch > 0 && options.prefetch !== false;
  const prefetched = await fromInbox(config, name, target);
  // Before a download from the endpoint, the prefetcher gets going on the next segments
  // meanwhile (Node takes ~0.1 s to start); at the end of the archive it finds nothing and idles out.
  if (prefetching) await startPrefetch(config, name, options.entry);
  return prefetched ? 'prefetched' : fromEndpoint(config, name, target, options);
}

async function fromInbox(config: HostConfig, name: string, target: string): Promise<boolean> {
  const inbox = inboxPath(config.spool, name);
  // The prefetcher is writing it now: waiting beats downloading it a second time.
  const part = `${inbox}.part`;
  const deadline = Date.now() + config.timeoutMs;
  while ((await exists(part)) && !(await exists(inbox)) && Date.now() < deadline && (await lockHolder(config.spool, 'prefetcher')) !== undefined) {
    await sleep(25);
  }
  try {
    await moveWhole(inbox, target);
  } catch {
    return false;
  }
  return true;
}

async function fromEndpoint(config: HostConfig, name: string, target: string, options: WalFetchOptions): Promise<WalFetchResult> {
  const client = options.client ?? new ArchiveClient(config);
  let delay = config.fetch.retryDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await fetchToFile(client, name, target, `${target}.strongbox.tmp`, { ...options.codec }, { onChunk: options.onChunk }).catch((error: unknown) => {
        if (error instanceof StrongboxError) throw error;
        throw new StrongboxError('WAL_WRITE_FAILED', `cannot write ${target}: ${(error as Error).message}`, 'the postgres OS user must be able to write into pg_wal and the spool, and the disks must have room', { cause: error });
      });
      return 'fetched';
    } catch (error) {
      if (error instanceof StrongboxError && error.code === 'WAL_NOT_FOUND') return 'not-found';
      if (!isRetryable(error) || attempt >= config.fetch.attempts) throw error;
      logError(error, { segment: name, attempt, retryInMs: delay });
      await sleep(delay);
      delay = Math.min(delay * 2, config.fetch.maxDelayMs);
    }
  }
}

/** Tells the prefetcher where recovery is and starts it if it is not running. Never fails the fetch. */
async function startPrefetch(config: HostConfig, name: string, entry: string | undefined): Promise<void> {
  try {
    await mkdir(dirname(wantPath(config.spool)), { recursive: true });
    await writeFile(wantPath(config.spool), `${name}\n`);
    await ensureBackground(config.spool, 'prefetcher', ['--config', config.path], entry);
  } catch (error) {
    logError(error, { segment: name, step: 'start prefetcher' });
  }
}
