/**
 * The steps of runRestore that are not its flow: leftover cleanup, the manifest and archive
 * checks, and the hint that says what became of the target.
 */
import type { Manifest } from '../../domain/manifest';
import { isScratchOf, type RestorePlan } from '../../domain/restore-plan';
import { ManifestError, StrongboxError } from '../../errors';
import type { Log } from '../../ports';
import type { RestoreServer, RestoreTools } from '../../ports/restore';

/** Drops the scratch databases of `plan`'s target left by killed runs, logging each; returns their names. */
export async function dropLeftovers(log: Log, server: RestoreServer, plan: RestorePlan): Promise<string[]> {
  const leftovers = (await server.listDatabases()).filter((name) => isScratchOf(plan, name));
  for (const name of leftovers) {
    await server.dropDatabase(name);
    log.info('leftover scratch database of a killed restore dropped', { database: name, target: plan.target.redacted });
  }
  return leftovers;
}

/**
 * The manifest must describe the entry the plan chose: a full logical backup with that dump.
 *
 * @throws ManifestError saying how it differs.
 */
export function assertManifestFits(manifest: Manifest, plan: RestorePlan): void {
  const { backup } = plan;
  const problem =
    manifest.id !== backup.id ? `it describes backup ${manifest.id}` :
    manifest.kind !== 'logical' || manifest.scope !== 'full' ? `it describes a ${manifest.scope} ${manifest.kind} backup` :
    manifest.objects.dump.key !== backup.key ? `its dump is ${manifest.objects.dump.key}, the catalog's ${backup.key}` : undefined;
  if (problem) throw new ManifestError(backup.manifestKey, `${problem}, not the full logical backup ${backup.id} of the catalog`);
}

/**
 * `pg_restore --list` of the file must succeed and print a table of contents.
 *
 * @throws StrongboxError ARCHIVE_INVALID; the tool's own error when `signal` aborted it.
 */
export async function checkArchive(tools: RestoreTools, file: string, plan: RestorePlan, signal?: AbortSignal): Promise<void> {
  await readArchiveContents(tools, file, plan.backup.id, signal);
}

/**
 * `pg_restore --list` of a verified dump: its table of contents, refused unless it reads as one.
 *
 * @throws StrongboxError ARCHIVE_INVALID; the tool's own error when `signal` aborted it.
 */
export async function readArchiveContents(tools: Pick<RestoreTools, 'listArchive'>, file: string, backupId: string, signal?: AbortSignal): Promise<string> {
  let contents: string;
  try {
    contents = await tools.listArchive(file, signal);
  } catch (error) {
    if (signal?.aborted) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new StrongboxError('ARCHIVE_INVALID', `the dump of backup ${backupId} is not a readable pg_dump archive: ${detail}`, 'its checksum matched, so it was damaged when written (or needs a newer pg_restore): restore another backup (`strongbox list`)', { cause: error });
  }
  if (!/^;\s+Archive created at/m.test(contents)) {
    throw new StrongboxError('ARCHIVE_INVALID', `pg_restore --list of backup ${backupId} printed no table of contents`, 'restore another backup (`strongbox list`)');
  }
  return contents;
}

/** The same error (same code and message), with the hint saying what became of the target. */
export function withOutcome(failure: StrongboxError, plan: RestorePlan, state: { scratchCreated: boolean; targetDropped: boolean }): StrongboxError {
  const target = `"${plan.target.database}"`;
  const outcome = state.targetDropped
    ? `${target} was dropped by --drop-first and is NOT restored: run the restore again`
    : `${target} was not touched${state.scratchCreated ? ` (the scratch database "${plan.restoreInto}" was dropped)` : ''}`;
  return new StrongboxError(failure.code, failure.message, `${failure.hint}. ${outcome}`, { cause: failure });
}

