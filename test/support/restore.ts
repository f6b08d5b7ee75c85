/**
 * Helpers for restore tests: a database holding every kind of object a restore must bring back,
 * and a fingerprint of a database (ordered rows per table, sequences, large objects, the objects'
 * names) to compare an original with its restored copy.
 */
import { connectClient } from '../../shared/adapters/postgres/client';
import type { PgConnection } from '../../shared/ports/postgres';

/**
 * Objects beyond the sample data: mixed-case quoted schemas, tables, columns and an enum, a
 * sequence advanced past its start, a partitioned table, a view, a materialized view, indexes
 * and a large object.
 */
const RICH_SQL = `
CREATE SCHEMA "Billing";
CREATE SCHEMA inventory;
CREATE TYPE "Billing"."InvoiceState" AS ENUM ('draft', 'Sent', 'paid');
CREATE SEQUENCE inventory."Item_Seq" START 500 INCREMENT 7;
CREATE TABLE inventory."Items" (
  "Id" bigint PRIMARY KEY DEFAULT nextval('inventory."Item_Seq"'),
  "Name" text NOT NULL,
  "weight kg" numeric(8, 3),
  tags text[]
);
CREATE UNIQUE INDEX "Items_Name_idx" ON inventory."Items" ("Name");
CREATE TABLE "Billing"."Invoices" (
  id serial PRIMARY KEY,
  item_id bigint REFERENCES inventory."Items" ("Id"),
  state "Billing"."InvoiceState" NOT NULL,
  amount numeric(12, 2),
  issued date NOT NULL,
  note text
);
CREATE INDEX "Invoices_issued" ON "Billing"."Invoices" (issued);
CREATE TABLE "Billing".ledger (at date NOT NULL, amount numeric, memo text) PARTITION BY RANGE (at);
CREATE TABLE "Billing".ledger_2025 PARTITION OF "Billing".ledger FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE "Billing".ledger_2026 PARTITION OF "Billing".ledger FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO inventory."Items" ("Name", "weight kg", tags)
  SELECT 'item ' || i || CASE WHEN i % 7 = 0 THEN ' ünïcødé "quoted"' ELSE '' END, CASE WHEN i % 5 = 0 THEN NULL ELSE i * 1.125 END, ARRAY['t' || (i % 3), 'x']
  FROM generate_series(1, 120) AS i;
INSERT INTO "Billing"."Invoices" (item_id, state, amount, issued, note)
  SELECT 500 + 7 * (i % 120), (ARRAY['draft', 'Sent', 'paid']::"Billing"."InvoiceState"[])[1 + i % 3], i * 3.5, date '2025-06-01' + i, md5(i::text)
  FROM generate_series(1, 300) AS i;
INSERT INTO "Billing".ledger SELECT date '2025-11-01' + i, i * 2.25, 'entry ' || i FROM generate_series(1, 150) AS i;
CREATE VIEW "Billing"."Open Invoices" AS SELECT * FROM "Billing"."Invoices" WHERE state <> 'paid';
CREATE MATERIALIZED VIEW inventory.item_totals AS
  SELECT i."Id", count(v.id) AS invoices, coalesce(sum(v.amount), 0) AS total
  FROM inventory."Items" i LEFT JOIN "Billing"."Invoices" v ON v.item_id = i."Id" GROUP BY i."Id";
CREATE INDEX item_totals_total ON inventory.item_totals (total);
SELECT nextval('"Sales".invoice_number') FROM generate_series(1, 17);
CREATE TABLE public.blobs (name text PRIMARY KEY, data oid NOT NULL);
INSERT INTO public.blobs VALUES ('report', lo_from_bytea(0, decode(repeat('00ff10a5', 20000), 'hex')));
`;

/** Adds the rich objects to `conn`'s database (which should hold the sample data already). */
export async function addRichObjects(conn: PgConnection): Promise<void> {
  await sql(conn, RICH_SQL);
}

/** Runs SQL (several statements) on `conn`'s database. */
export async function sql(conn: PgConnection, text: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  const client = await connectClient(conn);
  try {
    return (await client.query(text, params)).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
}

/** What a restore must reproduce of a database. */
export interface Fingerprint {
  /** `schema.name` → md5 of the rows' text, ordered by all columns (tables and materialized views). */
  rows: Record<string, string>;
  /** `schema.name` → last_value (null before the first nextval). */
  sequences: Record<string, string | null>;
  /** Large object oid → md5 of its bytes. */
  largeObjects: Record<string, string>;
  /** Every relation as `kind schema.name` (tables, partitions, views, indexes…), sorted. */
  objects: string[];
  /** Enum labels in order, per type. */
  enums: Record<string, string[]>;
}

const USER_NAMESPACES = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'";

/** Reads the fingerprint of `conn`'s database. */
export async function fingerprint(conn: PgConnection): Promise<Fingerprint> {
  const client = await connectClient(conn);
  try {
    const relations = await client.query<{ schema: string; name: string; kind: string }>(
      `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE ${USER_NAMESPACES} ORDER BY 1, 2`,
    );
    const rows: Record<string, string> = {};
    for (const { schema, name } of relations.rows.filter((r) => r.kind === 'r' || r.kind === 'm')) {
      const quoted = `${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`;
      const result = await client.query<{ md5: string }>(`SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t), '')) AS md5 FROM ONLY ${quoted} t`);
      rows[`${schema}.${name}`] = result.rows[0]!.md5;
    }
    const sequences = await client.query<{ name: string; value: string | null }>(
      'SELECT schemaname || \'.\' || sequencename AS name, last_value::text AS value FROM pg_sequences ORDER BY 1',
    );
    const blobs = await client.query<{ oid: string; md5: string }>('SELECT oid::text AS oid, md5(lo_get(oid)) AS md5 FROM pg_largeobject_metadata ORDER BY oid');
    const enums = await client.query<{ name: string; labels: string[] }>(
      `SELECT n.nspname || '.' || t.typname AS name, array_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels
         FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid JOIN pg_namespace n ON n.oid = t.typnamespace GROUP BY 1 ORDER BY 1`,
    );
    return {
      rows,
      sequences: Object.fromEntries(sequences.rows.map((s) => [s.name, s.value])),
      largeObjects: Object.fromEntries(blobs.rows.map((b) => [b.oid, b.md5])),
      objects: relations.rows.map((r) => `${r.kind} ${r.schema}.${r.name}`),
      enums: Object.fromEntries(enums.rows.map((e) => [e.name, e.labels])),
    };
  } finally {
    await client.end();
  }
}

/** The database names on the server of `conn`. */
export async function databaseNames(conn: PgConnection): Promise<string[]> {
  return (await sql({ ...conn, database: 'postgres' }, 'SELECT datname FROM pg_database ORDER BY 1')).map((r) => String(r.datname));
}
