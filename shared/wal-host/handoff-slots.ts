import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { StrongboxError } from '../errors';
import type { ArchiveClient, Declaration, PushDone } from './client';
import { logLine } from './log';

/**
 * The uploader's hand-off files, kept open and rewritten in place from push to push: a
 * fresh file costs the kernel new page-cache pages for every segment (zeroed, then filled:
 * ~8 ms of CPU for 6.5 MB here), a rewritten one only the copy. Each file serves one push
 * at a time; the endpoint reads it while the push waits for its answer. Names:
 * `<spool>/tmp/<pid>.<n>.hand` (the spool cleaning leaves a live process's alone).
 */

interface Slot {
  name: string;
  handle: FileHandle;
}

export class HandoffSlots {
  readonly #free: Slot[] = [];
  readonly #all = new Set<Slot>();
  #serial = 0;

  /** `dir`: the spool's tmp folder, where the endpoint looks. */
  constructor(private readonly dir: string) {}

  /**
   * Puts `bytes` in a hand-off file and runs `use` with its name; the file is reused once
   * `use` settles. Rejects with the fs error when the file cannot be written (it is then
   * dropped), or with what `use` rejects with.
   */
  async with<T>(bytes: Uint8Array, use: (name: string) => Promise<T>): Promise<T> {
    const slot = this.#free.pop() ?? (await this.#open());
    try {
      let written = 0;
      while (written < bytes.length) written += (await slot.handle.write(bytes, written, bytes.length - written, written)).bytesWritten;
      await slot.handle.truncate(bytes.length);
    } catch (error) {
      await this.#drop(slot);
      throw error;
    }
    try {
      return await use(slot.name);
    } finally {
      this.#free.push(slot);
    }
  }

  /** Closes and removes every file (the uploader is going). */
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

/**
 * The local hand-off as a transport of its own (the local counterpart of a presigned PUT):
 * when the endpoint runs on this host and says it takes hand-offs, the stored bytes go into
 * one of the uploader's hand-off files, which the endpoint reads itself, instead of an HTTP
 * body. Once the endpoint refused one (HANDOFF_REFUSED), this transport stands aside for
 * the rest of its life.
 */
export class HandoffTransport {
  #refused = false;

  constructor(private readonly slots: HandoffSlots) {}

  /**
   * Sends through a hand-off file: the endpoint's answer, or undefined when the caller
   * must send a body instead (no hand-off here, refused, or a file that cannot be written).
   * Rejects with the endpoint's other errors.
   */
  async send(client: ArchiveClient, name: string, stored: Buffer, declaration: Declaration): Promise<PushDone | undefined> {
    if (this.#refused || !(await client.takesHandoff())) return undefined;
    let written = false;
    try {
      return await this.slots.with(stored, (handName) => {
        written = true;
        return client.putHandoff(name, handName, declaration);
      });
    } catch (error) {
      if (!written) {
        logLine('warn', 'cannot write a hand-off file: sending the body', { segment: name, reason: (error as NodeJS.ErrnoException).code ?? (error as Error).message });
        return undefined;
      }
      if (!(error instanceof StrongboxError) || error.code !== 'HANDOFF_REFUSED') throw error;
      this.#refused = true;
      logLine('info', 'the archive endpoint refused a hand-off file: sending bodies from now on', { segment: name, reason: error.message });
      return undefined;
    }
  }

  /** Closes and removes every hand-off file. */
  close(): Promise<void> {
    return this.slots.close();
  }
}
