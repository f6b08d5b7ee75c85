import { setTimeout as sleep } from 'node:timers/promises';
import type { Catalog } from '../ports/catalog';
import { isFinal, type BackupEntry } from '../domain/backup';
import { BackupNotFoundError } from '../errors';

/**
 * Polls the catalog until the entry is VERIFIED or FAILED, and returns it. After
 * `timeoutMs` returns the entry as it is then (UPLOADED: the checksum function has not
 * answered yet). Throws BackupNotFoundError when the entry disappears.
 */
export async function waitUntilFinal(catalog: Catalog, id: string, options: { timeoutMs: number; intervalMs?: number }): Promise<BackupEntry> {
  const deadline = Date.now() + options.timeoutMs;
  let interval = options.intervalMs ?? 50;
  for (;;) {
    const entry = await catalog.get(id);
    if (!entry) throw new BackupNotFoundError(id);
    if (isFinal(entry.state) || Date.now() >= deadline) return entry;
    await sleep(interval);
    interval = Math.min(interval * 2, 2_000);
  }
}
