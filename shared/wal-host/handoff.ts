import { constants } from 'node:fs';
import { copyFile, link, mkdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { WalCompression } from '../domain/wal/keys';
import { StrongboxError } from '../errors';
import type { ArchiveClient, PushDone } from './client';
import type { HostConfig } from './config';
import { scratchPath, SPOOL } from './spool-protocol';
import { fileIdentity, identityOf } from './identity';
import { logLine } from './log';
import { changedWhileRead, unconfirmed } from './push-file';

/**
 * The local hand-off, a transport of its own (the local counterpart of a presigned PUT):
 * when the endpoint runs on this host and compresses WAL files itself, the uploader hands
 * it the WAL file itself — a hard link in the spool's tmp folder
 * (`<spool>/tmp/<pid>.<n>.wal`, a copy on another filesystem) — and neither reads nor
 * compresses it. The endpoint, the trusted side, reads, hashes and compresses it once
 * (docs/wal.md). Once the endpoint refused one (HANDOFF_REFUSED), the transport stands
 * aside for the rest of its life, and the process pushes as it would without it.
 */

/** The hand-off of a host process (the uploader, a foreground wal-push): only to an endpoint at a loopback address, and unless switched off. */
export function handoffFor(config: HostConfig): HandoffTransport | undefined {
  const host = new URL(config.endpoint).hostname;
  const loopback = host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
  return config.fastPaths.handoff && loopback ? new HandoffTransport(scratchPath(config.spool)) : undefined;
}

export class HandoffTransport {
  #serial = 0;
  #refused = false;

  /** `dir`: the spool's tmp folder, where the endpoint looks. */
  constructor(private readonly dir: string) {}

  /** True while the endpoint of `client` takes hand-offs stored in `compression` (false when it cannot say). */
  async takes(client: ArchiveClient, compression: WalCompression): Promise<boolean> {
    return !this.#refused && ((await client.health().catch(() => undefined))?.encodes?.includes(compression) ?? false);
  }

  /**
   * Hands `path` (WAL file `name`) over to be stored in `compression`: the endpoint's
   * answer and the identity of the file it read, or undefined when the caller must push the
   * file itself (no hand-off here, refused, no link nor copy possible). Rejects with the
   * endpoint's other errors, WAL_READ_FAILED when the file changed meanwhile, and
   * WAL_PUSH_UNCONFIRMED for an answer about another file.
   */
  async send(client: ArchiveClient, path: string, name: string, compression: WalCompression): Promise<{ done: PushDone; identity: string } | undefined> {
    if (!(await this.takes(client, compression))) return undefined;
    const handed = `${process.pid}.${++this.#serial}${SPOOL.handoff}`;
    const target = join(this.dir, handed);
    try {
      const stats = await stat(path, { bigint: true });
      const identity = identityOf(stats);
      try {
        if (this.#serial === 1) await mkdir(this.dir, { recursive: true });
        await link(path, target).catch(() => copyFile(path, target, constants.COPYFILE_EXCL));
      } catch (error) {
        logLine('warn', 'cannot hand a WAL file over: pushing it here', { segment: name, reason: (error as NodeJS.ErrnoException).code ?? (error as Error).message });
        return undefined;
      }
      const done = await client.putHandoff(name, handed, compression);
      if ((await fileIdentity(path)) !== identity) throw changedWhileRead(path);
      if (done.record.compression !== compression || (done.record.name !== undefined && done.record.name !== name) || done.record.size !== Number(stats.size)) throw unconfirmed(done, name);
      return { done, identity };
    } catch (error) {
      if (!(error instanceof StrongboxError) || error.code !== 'HANDOFF_REFUSED') throw error;
      this.#refused = true;
      logLine('info', 'the archive endpoint refused a hand-off: pushing files here from now on', { segment: name, reason: error.message });
      return undefined;
    } finally {
      await unlink(target).catch(() => undefined);
    }
  }
}
