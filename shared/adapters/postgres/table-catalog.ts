/**
 * What a table restore reads from a database's catalog: a table's columns, primary key, the
 * foreign keys that reference it, and the sequences its columns draw from. Queries only; the
 * caller's session (and transaction) is used as it is.
 */
import type pg from 'pg';
import type { TableRef } from '../../ports/postgres';

/** A table found in the catalog. */
export interface FoundTable {
  oid: number;
  /** pg_class.relkind: 'r' plain table or partition, 'p' partitioned, 'v' view… */
  kind: string;
}

/** A column as a restore needs to know it. */
export interface ColumnInfo {
  name: string;
  /** format_type() in the session's search_path (qualified when the session's is empty). */
  type: string;
  /** GENERATED ALWAYS AS (…) STORED: never written. */
  generated: boolean;
  /** GENERATED ALWAYS AS IDENTITY: written only with OVERRIDING SYSTEM VALUE, never updated. */
  identityAlways: boolean;
  /** smallint, integer or bigint: a column a sequence can feed. */
  integer: boolean;
}

/** A foreign key that references a table. */
export interface IncomingKey {
  name: string;
  from: TableRef & { oid: number };
  fromColumns: string[];
  /** The referenced columns, in the same order. */
  toColumns: string[];
  /** confdeltype: a NO ACTION, r RESTRICT, c CASCADE, n SET NULL, d SET DEFAULT. */
  onDelete: string;
}

/** A sequence that feeds a column of a table. */
export interface FeedingSequence {
  /** Its regclass text, quoted and qualified as the session's search_path needs. */
  sequence: string;
  column: string;
}

/** The table named `t`, or undefined. */
export async function findTable(client: pg.Client, t: TableRef): Promise<FoundTable | undefined> {
  const result = await client.query<{ oid: string; kind: string }>(
    `SELECT c.oid::int8::text AS oid, c.relkind::text AS kind FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [t.schema, t.name],
  );
  const row = result.rows[0];
  return row ? { oid: Number(row.oid), kind: row.kind } : undefined;
}

/** True when the schema exists. */
export async function schemaExists(client: pg.Client, schema: string): Promise<boolean> {
  const result = await client.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [schema]);
  return result.rows.length > 0;
}

/** The table's columns in order. */
export async function columnsOf(client: pg.Client, oid: number): Promise<ColumnInfo[]> {
  const result = await client.query<ColumnInfo>(
    `SELECT a.attname::text AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
            a.attgenerated <> '' AS generated, a.attidentity = 'a' AS "identityAlways",
            a.atttypid IN ('pg_catalog.int2'::regtype, 'pg_catalog.int4'::regtype, 'pg_catalog.int8'::regtype) AS integer
       FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [oid],
  );
  return result.rows;
}

/** The primary key's columns in key order; empty when the table has none. */
export async function primaryKeyOf(client: pg.Client, oid: number): Promise<string[]> {
  const result = await client.query<{ name: string }>(
    `SELECT a.attname::text AS name FROM pg_catalog.pg_index i
       CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord`,
    [oid],
  );
  return result.rows.map((r) => r.name);
}

/**
 * The foreign keys referencing the table, once each: a key of a partitioned table is reported
 * on that table, not again on each of its partitions; a key referencing a partitioned parent is
 * reported on each of its partitions too (the copy PostgreSQL keeps for it).
 */
export async function incomingKeysOf(client: pg.Client, oid: number): Promise<IncomingKey[]> {
  const result = await client.query<{ name: string; fromOid: string; fromSchema: string; fromName: string; fromColumns: string[]; toColumns: string[]; onDelete: string }>(
    `SELECT c.conname::text AS name, c.conrelid::int8::text AS "fromOid", n.nspname::text AS "fromSchema", r.relname::text AS "fromName",
            c.confdeltype::text AS "onDelete",
            ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(num, ord)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num ORDER BY k.ord) AS "fromColumns",
            ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(num, ord)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num ORDER BY k.ord) AS "toColumns"
       FROM pg_catalog.pg_constraint c
       JOIN pg_catalog.pg_class r ON r.oid = c.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
      WHERE c.contype = 'f' AND c.confrelid = $1
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint p WHERE p.oid = c.conparentid AND p.confrelid = c.confrelid)
      ORDER BY 1`,
    [oid],
  );
  return result.rows.map((r) => ({ name: r.name, from: { oid: Number(r.fromOid), schema: r.fromSchema, name: r.fromName }, fromColumns: r.fromColumns, toColumns: r.toColumns, onDelete: r.onDelete }));
}

/** Pairs (child, parent) among `oids` where the child has a foreign key to the parent (self-references left out). */
export async function keysAmong(client: pg.Client, oids: number[]): Promise<Array<{ child: number; parent: number }>> {
  const result = await client.query<{ child: string; parent: string }>(
    `SELECT DISTINCT conrelid::int8::text AS child, confrelid::int8::text AS parent FROM pg_catalog.pg_constraint
      WHERE contype = 'f' AND conrelid = ANY($1::oid[]) AND confrelid = ANY($1::oid[]) AND conrelid <> confrelid`,
    [oids],
  );
  return result.rows.map((r) => ({ child: Number(r.child), parent: Number(r.parent) }));
}

/**
 * The sequences feeding the table's columns: owned by a column (serial, identity) of the table
 * or of a partitioned table it is a partition of, or called by a column default (nextval).
 */
export async function sequencesOf(client: pg.Client, oid: number): Promise<FeedingSequence[]> {
  const result = await client.query<FeedingSequence>(
    `SELECT s.oid::regclass::text AS sequence, a.attname::text AS column
       FROM pg_catalog.pg_depend d
       JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
       JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')
        AND (d.refobjid = $1 OR d.refobjid IN (SELECT relid FROM pg_catalog.pg_partition_ancestors($1::oid::regclass)))
     UNION
     SELECT s.oid::regclass::text, a.attname::text
       FROM pg_catalog.pg_attrdef ad
       JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass
       JOIN pg_catalog.pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
       JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
      WHERE ad.adrelid = $1
      ORDER BY 1, 2`,
    [oid],
  );
  return result.rows;
}
