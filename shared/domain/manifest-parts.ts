/**
 * The parts of a `streams` logical backup in its manifest (issue 15 point 6). Pure.
 *
 * A streams manifest has format version 2 (an older Strongbox refuses it rather than restore
 * only its first part). Its `objects.dump` is the **pre-data** part (every definition: a
 * standard custom-format archive on its own), and `objects.parts` the others in restore
 * order: the data parts, then the post-data part (indexes, constraints, triggers); last, in
 * backups since 2026-12-05, the **schema** part (`pg_dump --schema-only`: every definition
 * with its dependencies, which the post-data part loses), which a restore does not read and
 * restore-table --mode recreate does. Each
 * data part lists its tables, except the **rest** part, which holds every table no other part
 * lists (and the sequences' values and large objects).
 */
import { z } from 'zod';
import type { TableRef } from '../ports/postgres';
import type { Manifest } from './manifest';

/** The manifest format version of a backup with parts. */
export const PARTS_FORMAT_VERSION = 2;

const tableRef = z.object({ schema: z.string(), name: z.string() });

export const dumpPartSchema = z.object({
  section: z.enum(['data', 'post-data', 'schema']),
  key: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a lower-case hex SHA-256'),
  /** A listed data part: the tables whose rows it holds. */
  tables: z.array(tableRef).optional(),
  /** The rest data part. */
  rest: z.boolean().optional(),
});

export type DumpPart = z.infer<typeof dumpPartSchema>;

/** The problems of a manifest's parts (empty when sound), for the schema's refinement. */
export function partsProblems(manifest: { formatVersion: number; kind: string; scope: string; objects: { parts?: DumpPart[] | undefined } }): string[] {
  const parts = manifest.objects.parts;
  if (parts === undefined) return manifest.formatVersion === PARTS_FORMAT_VERSION ? [`format version ${PARTS_FORMAT_VERSION} is for a backup with parts`] : [];
  const problems: string[] = [];
  if (manifest.formatVersion !== PARTS_FORMAT_VERSION) problems.push(`a backup with parts has format version ${PARTS_FORMAT_VERSION}`);
  if (manifest.kind !== 'logical' || manifest.scope !== 'full') problems.push('only a full logical backup has parts');
  const data = parts.filter((part) => part.section === 'data');
  if (data.filter((part) => part.rest).length !== 1) problems.push('exactly one data part is the rest part');
  if (data.some((part) => !part.rest && !part.tables?.length)) problems.push('a listed data part names its tables');
  const restored = parts.filter((part) => part.section !== 'schema');
  if (restored.filter((part) => part.section === 'post-data').length !== 1 || restored[restored.length - 1]?.section !== 'post-data') problems.push('the post-data part comes once, after the data parts');
  const schema = parts.filter((part) => part.section === 'schema');
  if (schema.length > 1 || (schema.length === 1 && parts[parts.length - 1]?.section !== 'schema')) problems.push('the schema part comes at most once, last');
  if (new Set(parts.map((part) => part.key)).size !== parts.length) problems.push('every part has its own key');
  return problems;
}

/** True for a backup stored as parts. */
export function hasParts(manifest: Manifest): boolean {
  return (manifest.objects.parts?.length ?? 0) > 0;
}

/** The data parts (empty for a single-object backup). */
export function dataParts(manifest: Manifest): DumpPart[] {
  return (manifest.objects.parts ?? []).filter((part) => part.section === 'data');
}

/** The post-data part, or undefined for a single-object backup. */
export function postDataPart(manifest: Manifest): DumpPart | undefined {
  return (manifest.objects.parts ?? []).find((part) => part.section === 'post-data');
}

/** The schema part (every definition with its dependencies), or undefined: a single-object backup, or a parallel one written before it existed. */
export function schemaPart(manifest: Manifest): DumpPart | undefined {
  return (manifest.objects.parts ?? []).find((part) => part.section === 'schema');
}

/** The data part holding `table`'s rows: the part that lists it, else the rest part. */
export function partHolding(manifest: Manifest, table: TableRef): DumpPart | undefined {
  const data = dataParts(manifest);
  return data.find((part) => part.tables?.some((t) => t.schema === table.schema && t.name === table.name)) ?? data.find((part) => part.rest);
}
