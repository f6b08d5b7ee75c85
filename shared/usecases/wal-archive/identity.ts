import type { Storage } from '../../ports/storage';
import { archiveIdentityKey } from '../../domain/wal/keys';
import { archiveIdentitySchema, type ArchiveIdentity } from '../../domain/wal/record';
import { ManifestError, ObjectExistsError, ObjectNotFoundError, StorageError } from '../../errors';
import type { WalDeclaration } from './declaration';
import type { WalArchiveDeps } from './deps';
import { SystemIdMismatchError, WalNotFoundError } from './errors';
import { withKeyLock } from './lock';

/**
 * The archive identity (`wal/<database>/archive.json`): the cluster whose segments the
 * archive accepts, fixed by the first segment archived.
 *
 * It is written create-only (storage.ts): of two clusters racing on the very first segment
 * of an empty archive, exactly one writes it; the other's write is refused by storage, it
 * reads the winner's and fails with SYSTEM_ID_MISMATCH. Nothing ever replaces it.
 */

/** Reads the identity, or undefined before the first segment. Throws ManifestError when it is unreadable, StorageError. */
export async function readIdentity(storage: Storage, database: string): Promise<ArchiveIdentity | undefined> {
  const key = archiveIdentityKey(database);
  let text: string;
  try {
    text = (await storage.getBytes(key)).toString('utf8');
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ManifestError(key, 'not JSON', { cause: error });
  }
  const parsed = archiveIdentitySchema.safeParse(json);
  if (!parsed.success) throw new ManifestError(key, `not an archive identity: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/**
 * The identity of `database`'s archive, as `GET …/identity` answers it.
 *
 * @throws WalNotFoundError before the first segment; ManifestError, StorageError.
 */
export async function archiveIdentity(deps: Pick<WalArchiveDeps, 'storage'>, database: string): Promise<ArchiveIdentity> {
  const identity = await readIdentity(deps.storage, database);
  if (!identity) throw new WalNotFoundError(database, 'the archive identity (archive.json)');
  return identity;
}

/** Throws SystemIdMismatchError unless a segment with `declaration` belongs in an archive of `identity`. */
export function assertSameCluster(identity: ArchiveIdentity, database: string, declaration: WalDeclaration): void {
  if (declaration.systemId !== identity.systemId) {
    throw new SystemIdMismatchError(database, `the archive holds system ${identity.systemId}, the segment comes from system ${declaration.systemId}`);
  }
  if (declaration.segmentSize !== identity.segmentSize) {
    throw new SystemIdMismatchError(database, `the archive holds ${identity.segmentSize}-byte segments, this one is ${declaration.segmentSize} bytes`);
  }
}

/**
 * Checks a declaration against the identity when the archive has one, creating nothing:
 * before the bytes are verified, a request must not be able to fix an archive's identity.
 * Resolves the identity, if any.
 *
 * @throws SystemIdMismatchError, ManifestError, StorageError.
 */
export async function checkIdentity(deps: Pick<WalArchiveDeps, 'storage'>, database: string, declaration: WalDeclaration): Promise<ArchiveIdentity | undefined> {
  const existing = await readIdentity(deps.storage, database);
  if (existing && declaration.systemId !== undefined) assertSameCluster(existing, database, declaration);
  return existing;
}

/**
 * For a segment or `.partial` declaration whose bytes were verified: checks it against the identity, creating the
 * identity from it when the archive has none. For other files: returns the identity if any.
 *
 * @throws SystemIdMismatchError, ManifestError, StorageError.
 */
export async function ensureIdentity(deps: WalArchiveDeps, database: string, declaration: WalDeclaration): Promise<ArchiveIdentity | undefined> {
  const existing = await readIdentity(deps.storage, database);
  if (declaration.systemId === undefined) return existing;
  if (existing) {
    assertSameCluster(existing, database, declaration);
    return existing;
  }
  return withKeyLock(deps, `identity:${database}`, async () => {
    const current = await readIdentity(deps.storage, database);
    if (current) {
      assertSameCluster(current, database, declaration);
      return current;
    }
    const created: ArchiveIdentity = {
      format: 'strongbox-archive/1',
      database,
      systemId: declaration.systemId!,
      segmentSize: declaration.segmentSize!,
      ...(declaration.pgVersion !== undefined ? { pgVersion: declaration.pgVersion } : {}),
      createdAt: deps.clock().toISOString(),
    };
    try {
      await deps.storage.putBytes(archiveIdentityKey(database), `${JSON.stringify(created, null, 2)}\n`, { contentType: 'application/json', createOnly: true });
    } catch (error) {
      if (!(error instanceof ObjectExistsError)) throw error;
      // Another writer created it first: its cluster is the archive's.
      const winner = await readIdentity(deps.storage, database);
      if (!winner) throw new StorageError(`${archiveIdentityKey(database)} was there a moment ago and is gone`, 'check that nothing else deletes under wal/ in the repository, then push again');
      assertSameCluster(winner, database, declaration);
      return winner;
    }
    deps.log.info('WAL archive identity created', { database, systemId: created.systemId, segmentSize: created.segmentSize });
    return created;
  });
}
