/**
 * What the planner may trust about a catalog entry. The catalog is DynamoDB: an item
 * written by an older Strongbox, by hand, or half-restored may lack a field or carry a
 * value this version does not know. Such an entry is kept, never deleted. Pure.
 */
import { BACKUP_STATES, TIERS, type BackupEntry } from '../backup';

const KINDS = ['logical', 'base'];
const SCOPES = ['full', 'tables'];

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

function isTime(value: unknown): value is string {
  return isText(value) && Number.isFinite(Date.parse(value));
}

/**
 * Retention deletes the keys an entry names: they must all lie in the entry's own folder
 * `<kind>/<tier>/<database>/<id>/` (any tier: a tier changed in the catalog keeps its
 * old folder), or a damaged entry could delete another backup's objects.
 */
function keysOutsideFolder(raw: Record<string, unknown>): string | undefined {
  const manifestKey = raw.manifestKey as string;
  const folder = manifestKey.slice(0, manifestKey.lastIndexOf('/') + 1);
  const parts = folder.split('/');
  if (parts.length !== 5 || parts[0] !== raw.kind || parts[1] === '' || parts[2] !== raw.database || parts[3] !== raw.id) {
    return `its manifestKey ${JSON.stringify(manifestKey)} is not in the folder ${String(raw.kind)}/<tier>/${String(raw.database)}/${String(raw.id)}/`;
  }
  for (const name of ['manifestKey', 'key', 'globalsKey'] as const) {
    const key = raw[name];
    if (key === undefined) continue;
    const rest = (key as string).slice(folder.length);
    if (!(key as string).startsWith(folder) || rest === '' || rest.includes('/') || rest === '..' || rest === '.') {
      return `its ${name} ${JSON.stringify(key)} is outside its folder ${folder}`;
    }
  }
  return undefined;
}

/**
 * The first problem that makes `entry` unfit for a retention decision (a missing or
 * unknown field, an unparseable time, a key outside the backup's own folder, a malformed
 * `deleting` mark), or undefined when the planner can rely on it.
 */
export function entryProblem(entry: BackupEntry): string | undefined {
  const raw = entry as unknown as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null) return 'the entry is not an object';
  for (const field of ['id', 'database', 'key', 'manifestKey'] as const) {
    if (!isText(raw[field])) return `its ${field} is missing`;
  }
  if (!TIERS.includes(raw.tier as never)) return `its tier ${JSON.stringify(raw.tier)} is unknown`;
  if (!BACKUP_STATES.includes(raw.state as never)) return `its state ${JSON.stringify(raw.state)} is unknown`;
  if (!KINDS.includes(raw.kind as never)) return `its kind ${JSON.stringify(raw.kind)} is unknown`;
  if (!SCOPES.includes(raw.scope as never)) return `its scope ${JSON.stringify(raw.scope)} is unknown`;
  if (!isTime(raw.startedAt)) return `its startedAt ${JSON.stringify(raw.startedAt)} is not a time`;
  if (raw.globalsKey !== undefined && !isText(raw.globalsKey)) return 'its globalsKey is not a key';
  if (raw.expiresAt !== undefined && !isTime(raw.expiresAt)) return `its expiresAt ${JSON.stringify(raw.expiresAt)} is not a time`;
  const outside = keysOutsideFolder(raw);
  if (outside) return outside;
  if (raw.deleting !== undefined) {
    const mark = raw.deleting as Record<string, unknown> | null;
    if (typeof mark !== 'object' || mark === null || !isTime(mark.at) || !isText(mark.rule)) return 'its deleting mark is malformed';
  }
  return undefined;
}

/** Text for an entry's field that may be missing, for reasons and sorting. */
export function field(entry: BackupEntry, name: keyof BackupEntry): string {
  const value = (entry as unknown as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : '';
}
