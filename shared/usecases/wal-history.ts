import type { WalCatalog } from '../ports/wal-catalog';
import type { Storage } from '../ports/storage';
import { historyName } from '../domain/wal/names';
import { decodeSmallWalFile } from '../domain/wal/small-file';

/**
 * The text of a timeline's archived history file, or undefined when the archive does not
 * have it. Throws StorageError / ObjectNotFoundError when its recorded object cannot be read.
 */
export async function readArchivedHistory(deps: { storage: Storage; walCatalog: WalCatalog }, database: string, timeline: number): Promise<string | undefined> {
  const record = await deps.walCatalog.getWal(database, historyName(timeline));
  if (!record) return undefined;
  return decodeSmallWalFile(await deps.storage.getBytes(record.objectKey), record.compression, historyName(timeline)).toString('utf8');
}
