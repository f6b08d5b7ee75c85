import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { StrongboxError } from '../errors';
import type { ArchiveClient, Declaration, PushDone } from './client';
import { logLine } from './log';

/**
 * The local hand-off, a transport of its own (the local counterpart of a presigned PUT):
 * when the endpoint runs on this host and says it takes hand-offs, the uploader's stored
 * bytes go into one of its hand-off files, which the endpoint reads itself, instead of an
 * HTTP body. The files (`<spool>/tmp/<pid>.<n>.hand`) are kept open and rewritten in place
 * from push to push, one push each at a time: a fresh file would cost new page-cache pages
 * for every segment (docs/benchmarks.md). Once the endpoint refused one (HANDOFF_REFUSED),
 * the transport stands aside for the rest of its life.
 */

interface Slot {
  name: string;
  handle: FileHandle;
}

export class HandoffTransport {
  readonly #free: Slot[] = [];
  readonly #all = new Set<Slot>();
  #serial = 0;
  #refused = false;

  /** `dir`: the spool's tmp folder, where the endpoint looks. */
  constructor(private readonly dir: string) {}

  /**
   * Sends through a hand-off file: the endpoint's answer, or undefined when the caller
   * must send a body instead (no hand-off here, refused, or a file that cannot be written:
   * that one is dropped). Rejects with the endpoint's other errors.
   */
  async send(client: ArchiveClient, name: string, stored: Buffer, declaration: Declaration): Promise<PushDone | undefined> {
    if (this.#refused || (await client.health()).handoff !== true) return undefined;
    let slot: Slot | undefined;
    try {
      slot = this.#free.pop() ?? (await this.#open());
      let written = 0;
      while (written < stored.length) written += (await slot.handle.write(stored, written, stored.length - written, written)).bytesWritten;
      await slot.handle.truncate(stored.length);
    } catch (error) {
      if (slot) await this.#drop(slot);
      logLine('warn', 'cannot write a hand-off file: sending the body', { segment: name, reason: (error as NodeJS.ErrnoException).code ?? (error as Error).message });
      return undefined;
    }
    try {
      return await client.putHandoff(name, slot.name, declaration);
    } catch (error) {
      if (!(error instanceof StrongboxError) || error.code !== 'HANDOFF_REFUSED') throw error;
      this.#refused = true;
      logLine('info', 'the archive endpoint refused a hand-off file: sending bodies from now on', { segment: name, reason: error.message });
      return undefined;
    } finally {
      this.#free.push(slot);
    }
  }

  /** Closes and removes every hand-off file (the uploader is going). */
  async close(): Promise<void> {
    this.#free.length = 0;
    await Promise.all([...this.#all].map((slot) => this.#drop(slot)));
  }

  async #open(): Promise<Slot> {
    const name = `${process.pid}.${++this.#serial}.hand`;
    // Readable by the endpoint's OS user; the spool itself (0700) keeps everyone else out.
    const handle = await open(join(this.dir, name), 'wx+', 0o644);
    const slot = { name, handle };
    this.#all.add(slot);
    return slot;
  }

  async #drop(slot: Slot): Promise<void> {
    this.#all.delete(slot);
    await slot.handle.close().catch(() => undefined);
    await unlink(join(this.dir, slot.name)).catch(() => undefined);
  }
}
