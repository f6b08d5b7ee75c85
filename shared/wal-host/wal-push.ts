import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ArchiveClient } from './client';
import { chooseCodec, type CodecOptions } from './codec';
import type { HostConfig } from './config';
import { fileIdentity } from './identity';
import { logError, logLine } from './log';
import { pushFile, walFileAt } from './push-file';
import { handoffFor } from './handoff';
import { cleanSpool } from './uploader';
import { ensureBackground, lockHolder, readSmall, removeQuietly, sleep } from './spool';
import { busyPath, linkMarkerPath, markerPath, ownerAlive, ownerLine, pushingPath } from './spool-protocol';

/**
 * `wal-push %p`, PostgreSQL's archive_command. Succeeds only when this very file is known
 * to be archived: either the uploader left a marker holding this file's identity, or the
 * endpoint just answered stored/exists for its bytes.
 */

/** How a wal-push succeeded. */
export type WalPushResult = 'marked' | 'stored' | 'exists';

/** Options for tests and for callers that already hold a client. */
export interface WalPushOptions {
  client?: ArchiveClient;
  codec?: CodecOptions;
  /** The script the uploader runs from (default: this process's entry, the bundle). */
  entry?: string;
  /** Start the uploader when other files wait to be archived (default true). */
  startUploader?: boolean;
}

/**
 * Archives the WAL file at `segmentPath` (relative paths are taken from `cwd`, the data
 * directory). Resolves how it succeeded; throws StrongboxError otherwise (BAD_WAL_NAME,
 * WAL_READ_FAILED, WAL_HEADER_INVALID, WAL_CONFLICT, SYSTEM_ID_MISMATCH, ENDPOINT_*, …):
 * the entry point turns any throw into exit 1.
 */
export async function walPush(segmentPath: string, config: HostConfig, cwd: string, options: WalPushOptions = {}): Promise<WalPushResult> {
  // The name is parsed here, once, and passed down.
  const file = walFileAt(resolve(cwd, segmentPath));
  const { path, wal: { name } } = file;
  const marker = markerPath(config.spool, name);
  if ((await isLinkMarker(linkMarkerPath(config.spool, name), path)) || (await consumeMarker(marker, path))) return 'marked';
  // The uploader is pushing this very file: wait for its outcome rather than push it twice.
  if (await awaitUploader(config, name) && (await consumeMarker(marker, path))) return 'marked';
  const walDir = dirname(path);
  const busy = busyPath(config.spool, name);
  // Tells the uploader not to push the same file beside us (written before the uploader
  // is started, which would otherwise see this file free); losing this is only waste.
  await mkdir(dirname(busy), { recursive: true })
    .then(async () => writeFile(busy, `${await ownerLine()}\n`))
    .catch(() => undefined);
  if (options.startUploader !== false && config.fastPaths.uploader) await startUploaderForBacklog(config, walDir, name, options.entry);
  try {
    const handoff = handoffFor(config);
    const outcome = await pushFile(file, options.client ?? new ArchiveClient(config), config.compression, { ...chooseCodec(config.compression, options.codec ?? {}), ...(handoff ? { handoff } : {}) });
    await removeQuietly(marker);
    // No uploader tidies the spool now (one killed would leave hard links behind): do it here.
    if ((await lockHolder(config.spool, 'uploader')) === undefined) await cleanSpool(config, walDir).catch(() => undefined);
    return outcome.status;
  } finally {
    await removeQuietly(busy);
  }
}

/** True when the uploader's hard-link marker is this very file (the uploader removes it). */
async function isLinkMarker(link: string, path: string): Promise<boolean> {
  const [a, b] = await Promise.all([stat(link).catch(() => undefined), stat(path).catch(() => undefined)]);
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
}

/** True (and the marker removed) when the uploader left a marker for this very file. */
async function consumeMarker(marker: string, path: string): Promise<boolean> {
  const marked = await readSmall(marker);
  if (marked === undefined || marked !== (await fileIdentity(path).catch(() => undefined))) return false;
  await removeQuietly(marker);
  return true;
}

/**
 * Waits while a live uploader pushes `name` (at most the request timeout). True when it
 * was pushing; whether it succeeded is for the marker to say.
 */
async function awaitUploader(config: HostConfig, name: string): Promise<boolean> {
  const pushing = pushingPath(config.spool, name);
  const owner = await readSmall(pushing);
  if (!(await ownerAlive(owner, 'uploader'))) return false;
  logLine('info', 'waiting for the uploader, which is pushing this file', { segment: name, uploader: owner });
  const deadline = Date.now() + config.timeoutMs;
  while (Date.now() < deadline && (await readSmall(pushing)) === owner && (await ownerAlive(owner, 'uploader'))) await sleep(20);
  return true;
}

/**
 * Starts the uploader when other `.ready` files wait beside this one: with no backlog a
 * background process would only idle. Never fails the push: a failure here is logged.
 */
async function startUploaderForBacklog(config: HostConfig, walDir: string, name: string, entry: string | undefined): Promise<void> {
  try {
    const entries = await readdir(join(walDir, 'archive_status')).catch(() => [] as string[]);
    if (!entries.some((entry) => entry.endsWith('.ready') && entry !== `${name}.ready`)) return;
    await ensureBackground(config.spool, 'uploader', ['--config', config.path, '--wal-dir', walDir], entry);
  } catch (error) {
    logError(error, { segment: name, step: 'start uploader' });
  }
}
