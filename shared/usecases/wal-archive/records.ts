import type { Storage } from '../../ports/storage';
import { walKeysOf } from '../../domain/wal/keys';
import { walNameOf } from '../../domain/wal/file-ref';
import { DEFAULT_SEGMENT_SIZE, formatLsn, segmentStartLsn, type WalName } from '../../domain/wal/names';
import { parseWalRecord, WAL_RECORD_FORMAT, type ArchiveIdentity, type WalRecord } from '../../domain/wal/record';
import { ObjectNotFoundError } from '../../errors';
import type { DeclaredWalFile, WalDeclaration } from './declaration';
import type { WalArchiveDeps } from './deps';
import { WalConflictError } from './errors';

/** One WAL file a request is about: who, what, and where its bytes and record go. */
export interface WalTarget {
  database: string;
  name: string;
  declaration: WalDeclaration;
  wal: WalName;
  objectKey: string;
  recordKey: string;
  /** The archive identity as the push read it (checked against the declaration), when it existed: not read again before the record. */
  identity?: ArchiveIdentity;
}

/**
 * Resolves names and keys of a declared file, from its typed values (no name parsed again).
 * The segment size comes from the declaration (segments), else the archive's identity,
 * else PostgreSQL's default.
 *
 * @throws StrongboxError BAD_WAL_NAME (the name's low digits are past that size's segments per log id).
 */
export function walTarget({ file, declaration }: DeclaredWalFile, identitySegmentSize?: number): WalTarget {
  const wal = walNameOf(file, declaration.segmentSize ?? identitySegmentSize ?? DEFAULT_SEGMENT_SIZE);
  return { database: file.database, name: file.name, declaration, wal, ...walKeysOf(file, declaration.compression) };
}

/** The record at `key`, or undefined when the file is not archived. Throws ManifestError, StorageError. */
export async function readRecord(storage: Storage, key: string): Promise<WalRecord | undefined> {
  try {
    return parseWalRecord((await storage.getBytes(key)).toString('utf8'), key);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    throw error;
  }
}

/**
 * The record of a file whose stored bytes were verified against its declaration; `deferred`:
 * all but the decoded size and SHA-256, which the record then marks (deferred-check.ts).
 */
export function buildRecord(target: WalTarget, archivedAt: Date, decoded: 'checked' | 'deferred' = 'checked'): WalRecord {
  const { wal, declaration } = target;
  const segmentSize = declaration.segmentSize;
  const covers = (wal.kind === 'segment' || wal.kind === 'partial') && wal.segno !== undefined && segmentSize !== undefined;
  return {
    format: WAL_RECORD_FORMAT,
    database: target.database,
    name: target.name,
    kind: wal.kind,
    timeline: wal.timeline,
    ...(wal.segno !== undefined ? { segno: wal.segno.toString() } : {}),
    ...(covers ? { startLsn: formatLsn(segmentStartLsn(wal.segno!, segmentSize)), endLsn: formatLsn(segmentStartLsn(wal.segno! + 1n, segmentSize)) } : {}),
    objectKey: target.objectKey,
    compression: declaration.compression,
    size: declaration.size,
    sha256: declaration.sha256,
    storedSize: declaration.storedSize,
    storedSha256: declaration.storedSha256,
    ...(declaration.systemId !== undefined ? { systemId: declaration.systemId } : {}),
    archivedAt: archivedAt.toISOString(),
    ...(decoded === 'deferred' ? { decodedCheck: 'deferred' as const } : {}),
  };
}

/**
 * The answer when `target` is already archived as `record`: the same file again is
 * `exists` (PostgreSQL may archive a file twice, e.g. after a crash), once the record is
 * made sure to be indexed (`deps.ensureIndexed`). Other bytes are a
 * conflict: never overwritten, logged, and alerted at SEV2.
 *
 * @throws WalConflictError when the archived file has another SHA-256; what
 *   `deps.ensureIndexed` throws (CatalogError, WAL_OBJECT_INVALID…).
 */
export async function answerArchived(deps: WalArchiveDeps, target: WalTarget, record: WalRecord): Promise<{ status: 'exists'; record: WalRecord }> {
  if (record.sha256 === target.declaration.sha256) {
    // "Already archived" is final for PostgreSQL: the file must then be in the catalog too.
    await deps.ensureIndexed?.(target.recordKey);
    deps.log.info('WAL file already archived', { database: target.database, segment: target.name });
    return { status: 'exists', record };
  }
  const conflict = new WalConflictError(target.database, target.name, record.sha256, target.declaration.sha256);
  deps.log.error('WAL conflict: same name, other bytes', { database: target.database, segment: target.name, archived: record.sha256, offered: target.declaration.sha256 });
  await deps.alerts.publish({
    type: 'WAL_CONFLICT',
    severity: 'SEV2',
    message: conflict.message,
    hint: conflict.hint,
    database: target.database,
    code: conflict.code,
    at: deps.clock().toISOString(),
  });
  throw conflict;
}
