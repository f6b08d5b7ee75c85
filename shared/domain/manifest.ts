import { z } from 'zod';
import { ManifestError } from '../errors';
import { TIERS, type BackupEntry } from './backup';

/**
 * The manifest: a JSON object written beside a backup's data, last, so that its
 * presence means the data before it is complete, and so that the catalog can be
 * rebuilt from storage alone. Readers refuse a format version they do not know.
 */
export const MANIFEST_FORMAT_VERSION = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a lower-case hex SHA-256');
const isoTime = z.iso.datetime({ offset: true });

const storedObject = z.object({
  key: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  sha256,
});

export const manifestSchema = z.object({
  formatVersion: z.literal(MANIFEST_FORMAT_VERSION),
  id: z.string().min(1),
  database: z.string().min(1),
  kind: z.enum(['logical', 'base']),
  tier: z.enum(TIERS),
  scope: z.enum(['full', 'tables']),
  tablePatterns: z.array(z.string()).optional(),
  compression: z.enum(['gzip', 'zstd']),
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
  }),
  tools: z.object({ strongbox: z.string(), pgDump: z.string() }),
  /** Rows per table, counted in the dump's own snapshot. */
  tables: z.array(z.object({ schema: z.string(), name: z.string(), rows: z.number().int().nonnegative() })),
  objects: z.object({
    dump: storedObject,
    globals: storedObject.extend({ includesRolePasswords: z.boolean() }).optional(),
  }),
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
  if (version !== MANIFEST_FORMAT_VERSION) {
    throw new ManifestError(key, `format version ${JSON.stringify(version)} is not ${MANIFEST_FORMAT_VERSION}`);
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
    bytes: manifest.objects.dump.bytes + (manifest.objects.globals?.bytes ?? 0),
    sha256: manifest.objects.dump.sha256,
    startedAt: manifest.startedAt,
    finishedAt: manifest.finishedAt,
    heartbeatAt: manifest.finishedAt,
  };
}

/** Every object a manifest declares, with its expected size and checksum. */
export function declaredObjects(manifest: Manifest): Array<{ key: string; bytes: number; sha256: string }> {
  const { dump, globals } = manifest.objects;
  return globals ? [dump, globals] : [dump];
}
