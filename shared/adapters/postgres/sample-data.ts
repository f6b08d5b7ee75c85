/**
 * A small demo database for local mode and tests: two schemas (one mixed-case), a foreign
 * key, a partitioned table, an enum, a sequence, a view and indexes, filled with random
 * text that compresses like real data (pgbench's does not).
 */
import { connectClient } from './client';
import { mapPgError } from './errors';
import type { PgConnection } from '../../ports/postgres';

const SCHEMA_SQL = `
CREATE SCHEMA IF NOT EXISTS "Sales";
DO $$ BEGIN
  CREATE TYPE public.order_status AS ENUM ('pending', 'paid', 'shipped', 'cancelled');
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
CREATE SEQUENCE IF NOT EXISTS "Sales".invoice_number START 1000;
CREATE TABLE IF NOT EXISTS public.customers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL UNIQUE,
  notes text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS "Sales".orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES public.customers (id),
  invoice_number bigint NOT NULL DEFAULT nextval('"Sales".invoice_number'),
  status public.order_status NOT NULL DEFAULT 'pending',
  amount numeric(12, 2) NOT NULL,
  description text,
  ordered_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_customer_id_idx ON "Sales".orders (customer_id);
CREATE TABLE IF NOT EXISTS public.events (
  id bigint GENERATED ALWAYS AS IDENTITY,
  occurred_at timestamptz NOT NULL,
  kind text NOT NULL,
  payload text,
  PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE TABLE IF NOT EXISTS public.events_2024_01 PARTITION OF public.events FOR VALUES FROM ('2024-01-01 00:00+00') TO ('2024-02-01 00:00+00');
CREATE TABLE IF NOT EXISTS public.events_2024_02 PARTITION OF public.events FOR VALUES FROM ('2024-02-01 00:00+00') TO ('2024-03-01 00:00+00');
CREATE INDEX IF NOT EXISTS events_kind_idx ON public.events (kind);
CREATE OR REPLACE VIEW "Sales".customer_totals AS
  SELECT c.id, c.name, count(o.id) AS orders, coalesce(sum(o.amount), 0) AS total
  FROM public.customers c LEFT JOIN "Sales".orders o ON o.customer_id = c.id
  GROUP BY c.id, c.name;
`;

// $1 = customers; orders and events are proportional. Dates are fixed so the partitions always fit.
const DATA_SQL: Array<{ sql: string; withRows: boolean }> = [
  {
    withRows: true,
    sql: `INSERT INTO public.customers (name, email, notes)
      SELECT 'customer ' || i, 'customer' || i || '@example.com', md5(random()::text) || md5(random()::text)
      FROM generate_series(1, $1::int) AS i`,
  },
  {
    withRows: false,
    sql: `INSERT INTO "Sales".orders (customer_id, status, amount, description, ordered_at)
      SELECT c.id, (ARRAY['pending', 'paid', 'shipped', 'cancelled']::public.order_status[])[1 + (random() * 3)::int],
             round((random() * 500)::numeric, 2), md5(random()::text), timestamptz '2024-01-01 00:00+00' + random() * interval '59 days'
      FROM public.customers c, generate_series(1, 2)`,
  },
  {
    withRows: true,
    sql: `INSERT INTO public.events (occurred_at, kind, payload)
      SELECT timestamptz '2024-01-01 00:00+00' + random() * interval '59 days', (ARRAY['login', 'view', 'purchase'])[1 + (random() * 2)::int],
             md5(random()::text) || md5(random()::text)
      FROM generate_series(1, $1::int)`,
  },
];

/** Row counts of a freshly seeded database with `rows` customers. */
export function sampleRowCounts(rows: number): { customers: number; orders: number; events: number } {
  return { customers: rows, orders: rows * 2, events: rows };
}

/**
 * Creates the demo schema in `conn`'s database and fills it with `rows` customers (default
 * 1000), twice as many orders and `rows` events. Idempotent: objects are created if missing,
 * and rows are added only when `public.customers` is empty.
 *
 * @throws DatabaseConnectionError when the connection fails; DumpError when a statement fails.
 */
export async function seedSampleData(conn: PgConnection, options: { rows?: number } = {}): Promise<void> {
  const rows = options.rows ?? 1000;
  const client = await connectClient(conn);
  try {
    await client.query('BEGIN');
    // Two seeders at once would both find the table empty: serialize them.
    await client.query("SELECT pg_advisory_xact_lock(hashtext('strongbox-sample-data'))");
    await client.query(SCHEMA_SQL);
    const existing = await client.query<{ any: boolean }>('SELECT EXISTS (SELECT 1 FROM public.customers) AS any');
    if (!existing.rows[0]?.any) {
      for (const step of DATA_SQL) await client.query(step.sql, step.withRows ? [rows] : []);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw mapPgError(error, conn, 'seed the sample data into');
  } finally {
    await client.end().catch(() => undefined);
  }
}
