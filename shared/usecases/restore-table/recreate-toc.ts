/**
 * Choosing, from an archive's table of contents, everything that recreates dropped tables
 * whole: each table's definition and every entry that depends on it, directly or through
 * another such entry (owned and identity sequences, defaults, rows, sequence values,
 * constraints, indexes, triggers, comments, grants, row security and policies, its foreign keys
 * and the foreign keys of other tables to it, views and what depends on them). Other tables
 * and their rows are never chosen, nor what depends only on them. Pure.
 *
 * Each chosen entry is either required (the table itself: without it the table is not back
 * whole, so its failure undoes everything) or tried (it ties the table to the rest of the
 * database, which may have changed since the backup: it is skipped, with PostgreSQL's reason,
 * when it cannot be recreated).
 */
import type { TableRef } from '../../ports/postgres';
import type { TocEntry } from './toc';

/** Entry types that belong to the table itself when all they depend on does. */
const REQUIRED = new Set([
  'TABLE', 'TABLE ATTACH', 'SEQUENCE', 'SEQUENCE OWNED BY', 'DEFAULT', 'TABLE DATA', 'SEQUENCE SET',
  'CONSTRAINT', 'CHECK CONSTRAINT', 'INDEX', 'COMMENT', 'ROW SECURITY', 'STATISTICS',
]);

/** Entries that are other tables (or their rows): never chosen through a dependency (a child that inherits a column, say). */
const OTHER_TABLES = new Set(['TABLE', 'TABLE DATA', 'FOREIGN TABLE']);

/** pg_restore's multi-word entry types; every other type is one word. */
const DESCS = [
  'MATERIALIZED VIEW DATA', 'SEQUENCE OWNED BY', 'MATERIALIZED VIEW', 'CHECK CONSTRAINT', 'FK CONSTRAINT',
  'SEQUENCE SET', 'TABLE ATTACH', 'INDEX ATTACH', 'ROW SECURITY', 'FOREIGN TABLE', 'TABLE DATA', 'DEFAULT ACL',
];

/** One entry to recreate, in the archive's (dependency) order. */
export interface RecreateEntry {
  entry: TocEntry;
  /** The entry type, e.g. `FK CONSTRAINT`. */
  desc: string;
  /** How reports name it: the list line's text without its owner, e.g. `INDEX public accounts_created`. */
  label: string;
  /** True: its failure undoes the whole restore. False: skipped with the reason when it fails. */
  required: boolean;
  /** The table whose rows this TABLE DATA entry stands for (rows come from the scratch database). */
  rows?: TableRef;
  /** Ids of chosen entries it depends on: when one of them is skipped, so is this one. */
  after: number[];
}

/** A table to recreate, with the ids of its TABLE and TABLE DATA entries (found by selectTables). */
export interface RecreatedTable extends TableRef {
  definition: number;
  data: number;
}

/** The entries that recreate `tables`, in the archive's order. */
export function selectRecreate(toc: TocEntry[], tables: RecreatedTable[]): RecreateEntry[] {
  const dependents = new Map<number, TocEntry[]>();
  for (const entry of toc) {
    for (const id of new Set(entry.dependsOn)) dependents.set(id, [...(dependents.get(id) ?? []), entry]);
  }
  const definitions = new Set(tables.map((t) => t.definition));
  const chosen = new Set<number>();
  const visit = (entry: TocEntry): void => {
    if (chosen.has(entry.id)) return;
    chosen.add(entry.id);
    for (const dependent of dependents.get(entry.id) ?? []) {
      if (!OTHER_TABLES.has(descOf(dependent)) || ours.has(dependent.id)) visit(dependent);
    }
  };
  const ours = new Set(tables.flatMap((t) => [t.definition, t.data]));
  for (const entry of toc) if (ours.has(entry.id)) visit(entry);
  const required = new Set<number>();
  const result: RecreateEntry[] = [];
  for (const entry of toc.filter((e) => chosen.has(e.id))) {
    const desc = descOf(entry);
    const after = [...new Set(entry.dependsOn.filter((id) => chosen.has(id) && id !== entry.id))];
    // A partition's definition depends on its parent's, which is not recreated: still required.
    if (definitions.has(entry.id) || (REQUIRED.has(desc) && after.every((id) => required.has(id)))) required.add(entry.id);
    const rows = tables.find((t) => t.data === entry.id);
    result.push({ entry, desc, label: labelOf(entry), required: required.has(entry.id), after, ...(rows ? { rows: { schema: rows.schema, name: rows.name } } : {}) });
  }
  return attachLast(result);
}

/**
 * A partition is attached once its own keys and indexes exist: attaching it first would make
 * PostgreSQL create the parent's indexes on it, and the dump's then clash with them. Attached
 * later, its own are matched to the parent's instead.
 */
function attachLast(entries: RecreateEntry[]): RecreateEntry[] {
  const attach = entries.filter((e) => e.desc === 'TABLE ATTACH');
  if (!attach.length) return entries;
  const rest = entries.filter((e) => e.desc !== 'TABLE ATTACH');
  const lastRequired = rest.findLastIndex((e) => e.required);
  return [...rest.slice(0, lastRequired + 1), ...attach, ...rest.slice(lastRequired + 1)];
}

/** The entry's type, as pg_restore prints it first on the line. */
export function descOf(entry: TocEntry): string {
  return DESCS.find((d) => entry.text.startsWith(`${d} `)) ?? entry.text.split(' ')[0] ?? '';
}

function labelOf(entry: TocEntry): string {
  return entry.text.replace(/ \S*$/, '');
}
