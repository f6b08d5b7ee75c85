import { z } from 'zod';
import { ManifestError } from '../errors';
import { TIERS, type BackupEntry } from './backup';
import { dumpPartSchema, PARTS_FORMAT_VERSION, partsProblems } from './manifest-parts';

/**
 * The manifest: a JSON object written beside a backup's data, last, so that its
 * presence means the data before it is complete, and so that the catalog can be
 * rebuilt from storage alone. Readers refuse a format version they do not know.
 */
export const MANIFEST_FORMAT_VERSION = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a lower-case hex SHA-256');
const isoTime = z.iso.datetime({ offset: true });

const lsn = z.string().regex(/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/, 'an LSN as PostgreSQL prints it (X/Y, upper-case hex)');
const walSegment = z.string().regex(/^[0-9A-F]{24}$/, 'a WAL segment name');

const baseInfo = z.object({
  startLsn: lsn,
  stopLsn: lsn,
  timeline: z.number().int().positive(),
  stopTimeline: z.number().int().positive(),
  systemId: z.string().regex(/^\d+$/),
  pgVersion: z.number().int().positive(),
  walSegments: z.object({ first: walSegment, last: walSegment }),
  label: z.string(),
  walIncluded: z.boolean(),
});

/**
 * Where a logical backup's snapshot lies in the WAL, for the physical drill. `logical-slot`:
 * the consistent point of a temporary logical replication slot whose exported snapshot the
 * dump read — recovery to exactly `lsn` (exclusive) sees exactly the dump's data.
 * `lsn-bounds` (wal_level replica): the insert LSN read just before and just after the snapshot
 * was taken, and the snapshot's xmax and in-progress xids (the transactions it did not see).
 */
export const snapshotInstantSchema = z.discriminatedUnion('method', [
  z.object({ method: z.literal('logical-slot'), lsn }),
  z.object({ method: z.literal('lsn-bounds'), beforeLsn: lsn, afterLsn: lsn, xmax: z.string().regex(/^\d+$/), xip: z.array(z.string().regex(/^\d+$/)) }),
]);

export type SnapshotInstant = z.infer<typeof snapshotInstantSchema>;

const storedObject = z.object({
  key: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  sha256,
});

export const manifestSchema = z.object({
  /** 1; 2 for a backup stored as parts (manifest-parts.ts). */
  formatVersion: z.union([z.literal(MANIFEST_FORMAT_VERSION), z.literal(PARTS_FORMAT_VERSION)]),
  id: z.string().min(1),
  database: z.string().min(1),
  kind: z.enum(['logical', 'base']),
  tier: z.enum(TIERS),
  scope: z.enum(['full', 'tables']),
  tablePatterns: z.array(z.string()).optional(),
  /** `none` only for a base backup (a plain tar). */
  compression: z.enum(['gzip', 'zstd', 'none']),
  startedAt: isoTime,
  finishedAt: isoTime,
  source: z.object({
    /** The database's name inside PostgreSQL. */
    pgDatabase: z.string(),
    serverVersion: z.string(),
    serverVersionNum: z.number().int(),
    systemIdentifier: z.string(),
    /** The WAL position at the dump's snapshot. */
    walLsn: z.string(),
    databaseSizeBytes: z.number().int().nonnegative(),
    /** The snapshot's instant in the WAL (absent in manifests written before it was recorded). */
    snapshot: snapshotInstantSchema.optional(),
  }),
  /** pg_dump's version for a logical backup, pg_basebackup's for a base backup. */
  tools: z.object({ strongbox: z.string(), pgDump: z.string().optional(), pgBasebackup: z.string().optional() }),
  /**
   * Rows per table, in the dump's own snapshot: up to a size (EXACT_LIMIT_BYTES) counted exactly
   * with a content `checksum` from the same scan; above it the planner's estimate, `estimate: true`
   * and no checksum (never compared exactly). docs/drills.md states the rule.
   */
  tables: z.array(z.object({ schema: z.string(), name: z.string(), rows: z.number().int().nonnegative(), estimate: z.boolean().optional(), checksum: z.string().optional() })),
  objects: z.object({
    dump: storedObject,
    globals: storedObject.extend({ includesRolePasswords: z.boolean() }).optional(),
    /** A parallel (streams) backup: `dump` is its pre-data part, these the data parts then post-data (manifest-parts.ts). */
    parts: z.array(dumpPartSchema).optional(),
  }),
  /** A base backup's WAL position and identity (see BaseBackupInfo); absent for a logical one. */
  base: baseInfo.optional(),
}).superRefine((manifest, context) => {
  const problem = (path: string[], message: string) => context.addIssue({ code: 'custom', path, message });
  if (manifest.kind === 'base') {
    if (!manifest.base) problem(['base'], 'a base backup\'s manifest needs its base part');
    if (manifest.compression === 'gzip') problem(['compression'], 'a base backup is stored with zstd or none');
    if (manifest.objects.globals) problem(['objects', 'globals'], 'a base backup has no separate globals');
  } else {
    if (manifest.base) problem(['base'], 'only a base backup has a base part');
    if (manifest.compression === 'none') problem(['compression'], 'a logical backup is compressed with gzip or zstd');
    if (manifest.tools.pgDump === undefined) problem(['tools', 'pgDump'], 'a logical backup records pg_dump\'s version');
  }
  for (const message of partsProblems(manifest)) problem(['objects', 'parts'], message);
});

export type Manifest = z.infer<typeof manifestSchema>;

/** Serialises a manifest (stable key order, trailing newline). */
export function serializeManifest(manifest: Manifest): string {
  return `${JSON.stringify(manifestSchema.parse(manifest), null, 2)}\n`;
}

/**
 * Parses and validates a stored manifest. Throws ManifestError naming the key and
 * every problem found (bad JSON, unknown format version, missing fields).
 */
export function parseManifest(text: string, key: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ManifestError(key, 'not JSON', { cause: error });
  }
  const version = (json as { formatVersion?: unknown } | null)?.formatVersion;
  if (version !== MANIFEST_FORMAT_VERSION && version !== PARTS_FORMAT_VERSION) {
    throw new ManifestError(key, `format version ${JSON.stringify(version)} is not ${MANIFEST_FORMAT_VERSION} or ${PARTS_FORMAT_VERSION}`);
  }
  const result = manifestSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ManifestError(key, problems.join('; '));
  }
  return result.data;
}

/**
 * The catalog entry a manifest stands for, as UPLOADED (the checksum function
 * decides VERIFIED). Used by the catalog-index function and by `catalog rebuild`.
 */
export function entryFromManifest(manifest: Manifest, manifestKey: string): BackupEntry {
  return {
    id: manifest.id,
    database: manifest.database,
    kind: manifest.kind,
    tier: manifest.tier,
    scope: manifest.scope,
    ...(manifest.tablePatterns ? { tables: manifest.tablePatterns } : {}),
    state: 'UPLOADED',
    key: manifest.objects.dump.key,
    manifestKey,
    ...(manifest.objects.globals ? { globalsKey: manifest.objects.globals.key } : {}),
    compression: manifest.compression,
    bytes: manifestBytes(manifest),
    sha256: manifest.objects.dump.sha256,
    ...(manifest.objects.parts?.length ? { partKeys: manifest.objects.parts.map((part) => part.key) } : {}),
    startedAt: manifest.startedAt,
    finishedAt: manifest.finishedAt,
    heartbeatAt: manifest.finishedAt,
    ...(manifest.base ? { base: manifest.base } : {}),
  };
}

/** Every object a manifest declares, with its expected size and checksum. */
export function declaredObjects(manifest: Manifest): Array<{ key: string; bytes: number; sha256: string }> {
  const { dump, globals, parts } = manifest.objects;
  const strip = ({ key, bytes, sha256 }: { key: string; bytes: number; sha256: string }) => ({ key, bytes, sha256 });
  return [dump, ...(globals ? [globals] : []), ...(parts ?? [])].map(strip);
}

/** The bytes of every object a manifest declares (dump, globals, parts): the catalog entry's `bytes`. */
export function manifestBytes(manifest: Manifest): number {
  return declaredObjects(manifest).reduce((sum, object) => sum + object.bytes, 0);
}
