/**
 * Finds the user tables a set of `--table` patterns selects, with pg_dump's rules, inside
 * whatever transaction the client is in (so a snapshot sees the tables of its own moment).
 */
import type pg from 'pg';
import { InputError } from '../../errors';
import { parseTablePattern } from '../../domain/table-pattern';
import { noMatchingTable } from './errors';
import type { TableRef } from '../../ports/postgres';

/** A table found in the catalog. `kind` 'p' is a partitioned parent, whose rows live in its partitions. */
export interface ResolvedTable extends TableRef {
  oid: number;
  kind: 'r' | 'p';
}

/** Schemas never backed up as user data; temporary schemas belong to other sessions. */
const USER_TABLES = `
  c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`;

const SELECT_TABLES = `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE ${USER_TABLES}`;

/**
 * The tables `patterns` match directly (without partitions added), in schema/name order;
 * all user tables when `patterns` is empty. An unqualified pattern matches only tables
 * visible in the search_path, as in pg_dump.
 *
 * @throws InputError when a pattern is invalid, names another database, or matches no table
 *   (the message names every such pattern).
 */
export async function matchTables(client: pg.Client, database: string, patterns: string[]): Promise<ResolvedTable[]> {
  if (patterns.length === 0) return sortTables(rows(await client.query(SELECT_TABLES)));
  const found = new Map<number, ResolvedTable>();
  const unmatched: string[] = [];
  for (const pattern of patterns) {
    const parsed = parseTablePattern(pattern);
    if (parsed.database !== undefined && parsed.database !== database) {
      throw new InputError(`the table pattern ${pattern} names database "${parsed.database}"`, `cross-database references are not possible: connect to "${parsed.database}", or drop the database part`);
    }
    const result = await client.query(
      `${SELECT_TABLES} AND c.relname OPERATOR(pg_catalog.~) $1 COLLATE pg_catalog.default
         AND CASE WHEN $2::text IS NULL THEN pg_catalog.pg_table_is_visible(c.oid)
                  ELSE n.nspname OPERATOR(pg_catalog.~) $2 COLLATE pg_catalog.default END`,
      [parsed.name, parsed.schema ?? null],
    );
    if (result.rows.length === 0) unmatched.push(pattern);
    for (const table of rows(result)) found.set(table.oid, table);
  }
  if (unmatched.length > 0) throw noMatchingTable(unmatched);
  return sortTables([...found.values()]);
}

/**
 * `patterns`' tables plus every partition (at any depth) of a partitioned table among them,
 * as pg_dump needs them named to dump their rows.
 *
 * @throws InputError as matchTables does.
 */
export async function resolveTables(client: pg.Client, database: string, patterns: string[]): Promise<ResolvedTable[]> {
  const matched = await matchTables(client, database, patterns);
  const parents = matched.filter((t) => t.kind === 'p').map((t) => t.oid);
  if (patterns.length === 0 || parents.length === 0) return matched;
  const partitions = await client.query(
    `${SELECT_TABLES} AND c.oid IN (SELECT t.relid FROM unnest($1::oid[]) AS p(oid), pg_catalog.pg_partition_tree(p.oid) AS t)`,
    [parents],
  );
  const all = new Map(matched.map((t) => [t.oid, t]));
  for (const table of rows(partitions)) all.set(table.oid, table);
  return sortTables([...all.values()]);
}

function rows(result: pg.QueryResult): ResolvedTable[] {
  return result.rows.map((r: { oid: string; schema: string; name: string; kind: 'r' | 'p' }) => ({ oid: Number(r.oid), schema: r.schema, name: r.name, kind: r.kind }));
}

function sortTables(tables: ResolvedTable[]): ResolvedTable[] {
  return tables.sort((a, b) => (a.schema === b.schema ? compare(a.name, b.name) : compare(a.schema, b.schema)));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
