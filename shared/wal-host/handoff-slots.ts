import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

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
