/**
 * Which tables of a backup a `--table` pattern selects, and what to suggest when it selects
 * none. The pattern follows pg_dump's rules (parseTablePattern); it is matched against the
 * manifest's tables, so a dry run names them exactly. Pure.
 */
import { editDistance } from './near-name';
import { InputError, StrongboxError } from '../errors';
import type { TableCount, TableRef } from '../ports/postgres';
import { parseTablePattern } from './table-pattern';
import { summarise } from './alerts/bounded';

/** How many near matches an error lists. */
const NEAR_LIMIT = 5;

/** The backup the tables come from, for the pattern's database part and for messages. */
export interface MatchContext {
  backupId: string;
  /** The database's name inside PostgreSQL when it was dumped. */
  pgDatabase: string;
  /** Strongbox's name of the database. */
  database: string;
}

/**
 * The manifest tables `pattern` selects, in schema/name order. A qualified pattern matches in
 * the schemas its schema part selects; an unqualified one in every schema, and must then select
 * tables of one schema only (a restore must never surprise with a second `users` table).
 * Partitioned tables are not in a manifest (their rows live in their partitions, which are):
 * select the partitions, e.g. `'public.events_*'`.
 *
 * @throws InputError for an invalid pattern, a database part naming another database, or an
 *   unqualified pattern spanning schemas; StrongboxError TABLE_NOT_IN_BACKUP listing near
 *   matches when nothing matches.
 */
export function matchManifestTables(tables: TableCount[], pattern: string, context: MatchContext): TableCount[] {
  const parsed = parseTablePattern(pattern);
  if (parsed.database !== undefined && parsed.database !== context.pgDatabase && parsed.database !== context.database) {
    throw new InputError(`the table pattern ${pattern} names database "${parsed.database}", but backup ${context.backupId} is of "${context.pgDatabase}"`, 'drop the database part of the pattern, or restore from a backup of that database');
  }
  // parseTablePattern escapes every regex character outside the wildcards: its regexes read the same in JavaScript.
  const name = new RegExp(parsed.name);
  const schema = parsed.schema === undefined ? undefined : new RegExp(parsed.schema);
  const matched = tables.filter((t) => name.test(t.name) && (schema === undefined || schema.test(t.schema))).sort(byName);
  if (matched.length === 0) {
    const near = nearMatches(tables, pattern);
    throw new StrongboxError(
      'TABLE_NOT_IN_BACKUP',
      `no table of backup ${context.backupId} matches ${JSON.stringify(pattern)}${near.length ? `; near matches: ${summarise(near.map(qualified), { separator: ', ' })}` : ''}`,
      'a partitioned table is restored through its partitions (e.g. --table \'public.events_*\'); quote mixed-case names (--table \'"Sales"."Orders"\'); `pg_restore --list` of the dump shows every table',
    );
  }
  const schemas = new Set(matched.map((t) => t.schema));
  if (parsed.schema === undefined && schemas.size > 1) {
    throw new InputError(
      `the table pattern ${JSON.stringify(pattern)} matches tables in several schemas: ${summarise(matched.map(qualified), { separator: ', ' })}`,
      'qualify it with its schema, e.g. --table public.orders (or --table \'*.orders\' to mean every schema)',
    );
  }
  return matched;
}

/**
 * Up to five backup tables whose name is close to the pattern's (same letters in another case,
 * one containing the other, or a few typing mistakes apart), closest first.
 */
export function nearMatches(tables: TableRef[], pattern: string): TableRef[] {
  const wanted = lastPart(pattern).toLowerCase();
  if (wanted === '') return [];
  const limit = Math.max(2, Math.floor(wanted.length / 3));
  const scored = tables
    .map((t) => {
      const name = t.name.toLowerCase();
      return { table: t, distance: editDistance(name, wanted), related: name.includes(wanted) || wanted.includes(name) };
    })
    .filter((s) => s.related || s.distance <= limit)
    .sort((a, b) => a.distance - b.distance || byName(a.table, b.table));
  return scored.slice(0, NEAR_LIMIT).map((s) => s.table);
}

/** The table part of a pattern, without quotes or wildcards, for comparing with names. */
function lastPart(pattern: string): string {
  let part = '';
  let inQuotes = false;
  for (const ch of pattern) {
    if (ch === '"') inQuotes = !inQuotes;
    else if (ch === '.' && !inQuotes) part = '';
    else if (inQuotes || (ch !== '*' && ch !== '?')) part += ch;
  }
  return part;
}

function qualified(t: TableRef): string {
  const ident = (s: string) => (/^[a-z_][a-z0-9_$]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`);
  return `${ident(t.schema)}.${ident(t.name)}`;
}

function byName(a: TableRef, b: TableRef): number {
  return a.schema === b.schema ? compare(a.name, b.name) : compare(a.schema, b.schema);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
