/**
 * What the planner may trust about a catalog entry. The catalog is DynamoDB: an item
 * written by an older Strongbox, by hand, or half-restored may lack a field or carry a
 * value this version does not know. Such an entry is kept, never deleted. Pure.
 */
import { BACKUP_STATES, TIERS, type BackupEntry } from '../backup';
import { parseLsn } from '../wal/names';

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
  const partKeys = Array.isArray(raw.partKeys) ? (raw.partKeys as unknown[]).map((key, index) => [`partKeys[${index}]`, key] as const) : [];
  if (raw.partKeys !== undefined && !Array.isArray(raw.partKeys)) return 'its partKeys is not a list of keys';
  for (const [name, key] of [...(['manifestKey', 'key', 'globalsKey'] as const).map((field) => [field, raw[field]] as const), ...partKeys]) {
    if (key === undefined) continue;
    if (!isText(key)) return `its ${name} is not a key`;
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
  if (raw.kind === 'base') return baseProblem(raw);
  return undefined;
}

const SEGMENT = /^[0-9A-F]{24}$/;

function isLsn(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    parseLsn(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * What a base backup needs for retention to plan its WAL: a RUNNING one may not know it
 * yet; any other must carry its `base` info (LSNs, timelines, first and last WAL segment,
 * whether that WAL is inside it) and, once VERIFIED, its `finishedAt`.
 */
function baseProblem(raw: Record<string, unknown>): string | undefined {
  const base = raw.base as Record<string, unknown> | undefined | null;
  if (base === undefined && raw.state === 'RUNNING') return undefined;
  if (typeof base !== 'object' || base === null) return 'its base backup info (LSNs, WAL segments) is missing';
  if (!isLsn(base.startLsn) || !isLsn(base.stopLsn)) return 'its base backup start or stop LSN does not parse';
  for (const name of ['timeline', 'stopTimeline'] as const) {
    const value = base[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) return `its base backup ${name} is not a timeline`;
  }
  const segments = base.walSegments as Record<string, unknown> | undefined | null;
  if (typeof segments !== 'object' || segments === null || typeof segments.first !== 'string' || typeof segments.last !== 'string' || !SEGMENT.test(segments.first) || !SEGMENT.test(segments.last)) {
    return 'its base backup WAL segments are missing or malformed';
  }
  if (segments.first.slice(8) > segments.last.slice(8)) return 'its base backup last WAL segment is before its first';
  if (typeof base.walIncluded !== 'boolean') return 'its base backup does not say whether its WAL is included';
  if (raw.state === 'VERIFIED' && !isTime(raw.finishedAt)) return `its finishedAt ${JSON.stringify(raw.finishedAt)} is not a time`;
  return undefined;
}

/** Text for an entry's field that may be missing, for reasons and sorting. */
export function field(entry: BackupEntry, name: keyof BackupEntry): string {
  const value = (entry as unknown as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : '';
}
