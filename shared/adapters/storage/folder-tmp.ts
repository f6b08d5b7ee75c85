import { randomUUID } from 'node:crypto';
import { opendir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../../errors';
import { fsError, isMissing } from './folder-fs';
import type { UnfinishedWrite } from '../../ports/storage';

/**
 * Names of the repository folder's temporary files (`.tmp/`): each says which key it is
 * writing and which process writes it, so that a sweep can tell a write whose writer was
 * killed from one still going (shared/usecases/unfinished-writes.ts):
 *
 *     <key, URI-encoded>+<pid>@<host, URI-encoded>+<random>.part
 *
 * URI encoding turns `/`, `+` and `@` into `%2F`, `%2B` and `%40`, so the two `+` and the
 * `@` split the name without ambiguity. A name over 255 bytes (the usual limit of a file
 * name) leaves the key out: `+<pid>@<host>+<random>.part`. Files named `<uuid>.part`, from
 * before names carried anything, parse as a write with no key and no writer.
 */

const SUFFIX = '.part';
/** Longest file name most filesystems (ext4, XFS, APFS, NTFS) accept, in bytes. */
const NAME_MAX = 255;

/** The writer recorded in a temporary file's name. */
export interface TempWriter {
  pid: number;
  host: string;
}

/** A fresh temporary file name for a write of `key` by `writer`. */
export function tempName(key: string, writer: TempWriter): string {
  const tail = `+${writer.pid}@${encodeURIComponent(writer.host)}+${randomUUID()}${SUFFIX}`;
  const named = `${encodeURIComponent(key)}${tail}`;
  return Buffer.byteLength(named, 'utf8') <= NAME_MAX ? named : tail;
}

/**
 * What a temporary file's name says: its key and writer when recorded. Undefined for a
 * name that is not a temporary file of ours (no `.part` suffix, or a mangled encoding).
 */
export function parseTempName(name: string): { key?: string; writer?: TempWriter } | undefined {
  if (!name.endsWith(SUFFIX) || name.includes('/')) return undefined;
  const parts = name.slice(0, -SUFFIX.length).split('+');
  if (parts.length === 1) return {}; // `<uuid>.part`: named before names carried anything
  if (parts.length !== 3) return undefined;
  const [encodedKey, encodedWriter] = parts as [string, string, string];
  const writer = /^([1-9]\d*)@(.+)$/.exec(encodedWriter);
  if (!writer) return undefined;
  try {
    const host = decodeURIComponent(writer[2]!);
    const key = encodedKey === '' ? undefined : decodeURIComponent(encodedKey);
    return { ...(key !== undefined ? { key } : {}), writer: { pid: Number(writer[1]), host } };
  } catch {
    return undefined; // not URI encoding: not a name we wrote
  }
}

/**
 * The unfinished writes in `tmpDir` whose key starts with `prefix` (those without a key only
 * for the empty prefix), read one directory entry at a time. A file gone between the
 * listing and its stat (its write completed) is skipped; a missing `tmpDir` lists nothing.
 */
export async function* listTempFiles(tmpDir: string, prefix: string): AsyncIterable<UnfinishedWrite> {
  let dir;
  try {
    dir = await opendir(tmpDir);
  } catch (error) {
    if (isMissing(error)) return;
    throw fsError(`list ${tmpDir}`, error);
  }
  try {
    for await (const entry of dir) {
      if (!entry.isFile()) continue;
      const parsed = parseTempName(entry.name);
      if (!parsed) continue;
      if (parsed.key === undefined ? prefix !== '' : !parsed.key.startsWith(prefix)) continue;
      let info;
      try {
        info = await stat(join(tmpDir, entry.name));
      } catch (error) {
        if (isMissing(error)) continue;
        throw fsError(`stat ${entry.name}`, error);
      }
      yield { ref: entry.name, ...parsed, lastWriteAt: info.mtime, bytes: info.size };
    }
  } catch (error) {
    throw fsError(`list ${tmpDir}`, error);
  }
}

/** Removes the temporary file `ref` names in `tmpDir`; one already gone is fine. Throws InputError for a ref that is not one. */
export async function removeTempFile(tmpDir: string, ref: string): Promise<void> {
  if (!parseTempName(ref)) throw new InputError(`${JSON.stringify(ref)} is not a temporary file of the repository folder`, 'discard only writes that listUnfinished returned');
  try {
    await rm(join(tmpDir, ref), { force: true });
  } catch (error) {
    throw fsError(`remove ${ref}`, error);
  }
}
