/**
 * The benchmark's database: a throwaway cluster holding about N MB of data that neither
 * gzip nor zstd can shrink much (md5 text, random numbers, timestamps, a jsonb column),
 * spread over three tables with a few indexes, generated server-side in one pass.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LocalCluster } from '../shared/adapters/postgres/cluster';
import type { PgConnection } from '../shared/ports/postgres';

/** The database name inside the benchmark cluster. */
export const BENCH_DATABASE = 'bench';

/** One generated table and its row count (what every manifest must declare). */
export interface GeneratedTable {
  name: string;
  rows: number;
}

/** A running cluster with the dataset loaded. */
export interface BenchDataset {
  conn: PgConnection;
  /** pg_database_size() once loaded and vacuumed. */
  sizeBytes: number;
  /** The server's `server_version`. */
  serverVersion: string;
  tables: GeneratedTable[];
  /** True when an earlier run's dataset was reused (`--keep`). */
  reused: boolean;
  /** Stops the server; removes its files unless they are kept. Idempotent. */
  close(): Promise<void>;
}

interface TableRecipe {
  name: string;
  /** Share of the target size this table (with its indexes) takes. */
  share: number;
  /** Bytes on disk per row, heap and indexes, measured on PostgreSQL 15. */
  bytesPerRow: number;
  create: string;
  /** `$ROWS` is replaced by the row count. */
  insert: string;
  indexes: string[];
}

/** An empty database already takes this much (the catalogs). */
const EMPTY_DATABASE_BYTES = 7_500_000;
const MARKER = 'dataset.json';

// md5() of random() gives hex text (≈ 4 bits of entropy per byte, like ids, tokens and
// hashes in real tables); random numbers print with all their digits. pgbench's rows
// are mostly blank padding and compress ~56:1, which would flatter any dump pipeline.
const RECIPES: TableRecipe[] = [
  {
    name: 'orders',
    share: 0.45,
    bytesPerRow: 212,
    create: `CREATE TABLE orders (id bigint NOT NULL, customer_id integer NOT NULL, created_at timestamptz NOT NULL,
      status text NOT NULL, amount numeric(12,2) NOT NULL, currency char(3) NOT NULL, reference uuid NOT NULL, note text)`,
    insert: `INSERT INTO orders SELECT g, (random() * 200000)::int,
      timestamptz '2020-01-01 00:00:00+00' + random() * interval '5 years',
      (ARRAY['new','paid','shipped','cancelled','refunded'])[1 + floor(random() * 5)::int],
      round((random() * 10000)::numeric, 2), (ARRAY['EUR','USD','GBP'])[1 + floor(random() * 3)::int],
      md5(random()::text)::uuid, md5(random()::text) || ' ' || md5(random()::text)
      FROM generate_series(1, $ROWS) AS g`,
    indexes: ['ALTER TABLE orders ADD PRIMARY KEY (id)', 'CREATE INDEX orders_customer_created ON orders (customer_id, created_at)'],
  },
  {
    name: 'documents',
    share: 0.35,
    bytesPerRow: 510,
    create: 'CREATE TABLE documents (id bigint NOT NULL, title text NOT NULL, body text NOT NULL, attrs jsonb NOT NULL, updated_at timestamptz NOT NULL)',
    insert: `INSERT INTO documents SELECT g, 'doc ' || md5(random()::text),
      concat_ws(' ', ${Array.from({ length: 8 }, () => 'md5(random()::text)').join(', ')}),
      jsonb_build_object('score', round(random()::numeric, 6), 'views', (random() * 1000000)::int,
        'tag', substr(md5(random()::text), 1, 8), 'flags', jsonb_build_array(random() < 0.5, random() < 0.1)),
      timestamptz '2023-01-01 00:00:00+00' + random() * interval '2 years'
      FROM generate_series(1, $ROWS) AS g`,
    indexes: ['ALTER TABLE documents ADD PRIMARY KEY (id)', "CREATE INDEX documents_tag ON documents ((attrs->>'tag'))"],
  },
  {
    name: 'readings',
    share: 0.2,
    bytesPerRow: 92,
    create: 'CREATE TABLE readings (sensor_id integer NOT NULL, taken_at timestamptz NOT NULL, value double precision NOT NULL, quality smallint NOT NULL)',
    insert: `INSERT INTO readings SELECT (random() * 5000)::int, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second',
      random() * 1000 - 500, (random() * 100)::smallint
      FROM generate_series(1, $ROWS) AS g`,
    indexes: ['CREATE INDEX readings_sensor_time ON readings (sensor_id, taken_at)'],
  },
];

/** Row counts that make a database of about `sizeMb` MB (10^6 bytes). */
export function planRows(sizeMb: number): GeneratedTable[] {
  const dataBytes = Math.max(sizeMb * 1_000_000 - EMPTY_DATABASE_BYTES, 1_000_000);
  return RECIPES.map((recipe) => ({ name: recipe.name, rows: Math.max(1, Math.round((dataBytes * recipe.share) / recipe.bytesPerRow)) }));
}

/**
 * Creates (or, with `keepDir` holding one of the same size, reopens) the benchmark
 * cluster and its dataset. Without `keepDir` everything lives in a fresh folder under
 * the system's temporary folder, removed by close().
 *
 * The cluster is a normal one (fsync on, initdb syncs): a dump only reads, but the
 * repository folder's fsyncs then compete with a server configured as in production.
 * WAL is minimal while loading, which lets the bulk inserts skip it.
 *
 * @throws StrongboxError (LOCAL_CLUSTER_FAILED) when the cluster cannot be created or
 *   started, or psql fails; Error when `keepDir` holds a dataset of another size.
 */
export async function prepareDataset(options: { sizeMb: number; keepDir?: string; progress: (line: string) => void }): Promise<BenchDataset> {
  const base = options.keepDir ? resolve(options.keepDir) : await mkdtemp(join(tmpdir(), 'strongbox-bench-'));
  await mkdir(base, { recursive: true });
  // The server runs as the postgres user when this runs as root: it must traverse the folder.
  await chmod(base, 0o755);
  const dataDir = join(base, 'cluster');
  const wanted = planRows(options.sizeMb);
  let cluster: LocalCluster | undefined;
  const close = once(async () => {
    if (options.keepDir) await cluster?.stop();
    else {
      await cluster?.destroy();
      await rm(base, { recursive: true, force: true });
    }
  });
  try {
    const previous = options.keepDir ? await readMarker(base) : undefined;
    if (previous) {
      if (JSON.stringify(previous) !== JSON.stringify(wanted)) {
        throw new Error(`${base} holds a dataset of another size (${describe(previous)}); remove it or pick another --keep folder`);
      }
      options.progress(`reusing the dataset in ${base}`);
      cluster = await LocalCluster.open(dataDir);
      await cluster.start();
    } else {
      if (options.keepDir) await rm(dataDir, { recursive: true, force: true });
      cluster = await LocalCluster.create({
        dataDir,
        settings: { wal_level: 'minimal', max_wal_senders: '0', max_wal_size: '4GB', checkpoint_timeout: '30min' },
      });
      await generate(cluster, wanted, options.progress);
      if (options.keepDir) await writeFile(join(base, MARKER), `${JSON.stringify(wanted, null, 2)}\n`);
    }
    const [size = '', version = ''] = (await cluster.psql(`SELECT pg_database_size('${BENCH_DATABASE}'), current_setting('server_version');`)).trim().split('|');
    return { conn: cluster.connection(BENCH_DATABASE), sizeBytes: Number(size), serverVersion: version, tables: wanted, reused: previous !== undefined, close };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}

async function generate(cluster: LocalCluster, tables: GeneratedTable[], progress: (line: string) => void): Promise<void> {
  await cluster.createDatabase(BENCH_DATABASE);
  for (const [index, recipe] of RECIPES.entries()) {
    const rows = tables[index]?.rows ?? 0;
    const started = Date.now();
    // Created and filled in one transaction: with wal_level=minimal the rows skip the WAL.
    await cluster.psql(`BEGIN;\n${recipe.create};\n${recipe.insert.replace('$ROWS', String(rows))};\nCOMMIT;\n${recipe.indexes.map((sql) => `${sql};`).join('\n')}\n`, BENCH_DATABASE);
    progress(`generated ${recipe.name}: ${rows.toLocaleString('en')} rows in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  // Sets hint bits and the visibility map now, so no dump pays for them, and autovacuum stays idle during the runs.
  await cluster.psql('VACUUM (FREEZE, ANALYZE);', BENCH_DATABASE);
  await cluster.psql('CHECKPOINT;');
}

async function readMarker(base: string): Promise<GeneratedTable[] | undefined> {
  const text = await readFile(join(base, MARKER), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as GeneratedTable[]);
}

function describe(tables: GeneratedTable[]): string {
  return tables.map((t) => `${t.name} ${t.rows} rows`).join(', ');
}

function once(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= run());
}
