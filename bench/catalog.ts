/**
 * `npm run bench:catalog [-- --segments N --small N --keep --dir PATH --runs N]` (issue 16,
 * point 6): a catalog holding 1,000,000 WAL segments over 7 days (three gaps, two timelines,
 * daily base backups) among 200 databases in dynalite (on disk, its own process), and the
 * same at 100,000; then the gap check, a PITR plan to a time inside the window, `status` and
 * the retention plan, each in a child process of its own (its peak RSS is the question's),
 * against both. Budget: each under 1 s and 128 MB RSS at 1M, and flat from 100k to 1M.
 * `--keep` keeps dynalite's files (in --dir) so that the next run skips the loading.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoCatalog, makeDynamoClient, toDocumentClient } from '../shared/adapters/catalog';
import { DynamoWalCatalog } from '../shared/adapters/catalog/dynamo-wal';
import { FolderStorage } from '../shared/adapters/storage/folder';
import { ensureCatalogTable } from '../shared/local/dynalite-server';
import { muteSdkNodeVersionWarning } from '../shared/runtime/node-warnings';
import { silentLog } from '../shared/ports';
import { backfillWalView } from '../shared/usecases/backfill-wal-view';
import { BUSY, loadCatalog, Shape } from './catalog/fixture';
import { answer, QUESTIONS, type Answer, type Question } from './catalog/questions';
import { startDynaliteChild } from './dynalite-child';
import { runBench } from './harness';
import { markdownTable, median } from './measure';

const USAGE = `usage: npm run bench:catalog -- [--segments N] [--small N] [--runs N] [--keep] [--dir PATH]
  --segments N  WAL segments of the busy database in the large catalog (default 1000000)
  --small N     the same in the small catalog (default 100000)
  --runs N      runs of each question in its process; the median is reported (default 3)
  --keep        keep dynalite's files in --dir: the next run reuses the catalogs (no loading)
  --dir PATH    where dynalite keeps its files with --keep (default <tmp>/strongbox-bench-catalog)`;

/** The end of the generated 7 days: fixed, so that a kept catalog answers the same. */
const END = Date.UTC(2026, 11, 1);
const BUDGET_MS = 1000;
const BUDGET_MIB = 128;
const progress = (line: string) => process.stderr.write(`${line}\n`);

/** What migrating a kept catalog to the WAL view took (the first run of this code on a catalog loaded before it). */
interface Backfilled {
  ms: number;
  items: number;
}

/**
 * A catalog kept from a run before the WAL view existed (no marker): its items are put in
 * the view as `catalog rebuild` or retention's first run would, and the cost is reported.
 */
async function ensureView(documents: DynamoDBDocumentClient, table: string, segments: number): Promise<Backfilled | undefined> {
  const walCatalog = new DynamoWalCatalog(documents, table);
  if ((await walCatalog.readViews(new Set([BUSY]))).complete) return undefined;
  progress(`catalog of ${segments.toLocaleString('en')} segments: written before the WAL view, backfilling it…`);
  const started = performance.now();
  const databases = [BUSY, ...Array.from({ length: 199 }, (_, index) => `db${String(index + 1).padStart(3, '0')}`)];
  const report = await backfillWalView({ walView: walCatalog, log: silentLog, clock: () => new Date() }, databases);
  if (!report.complete) throw new Error(`the WAL view could not be backfilled: ${report.failed.map((failed) => `${failed.database}: ${failed.message}`).join('; ')}`);
  return { ms: performance.now() - started, items: report.items };
}

/** Loads the catalog of `segments` into its table unless a kept run already did. */
async function ensureLoaded(endpoint: string, dir: string, segments: number): Promise<{ table: string; loadedMs?: number; backfilled?: Backfilled }> {
  const table = `catalog-${segments}`;
  const client = makeDynamoClient({ endpoint });
  try {
    await ensureCatalogTable(client, table);
    const documents = toDocumentClient(client);
    const marker = { pk: 'BENCH#CATALOG', sk: `LOADED#${segments}` };
    if ((await documents.send(new GetCommand({ TableName: table, Key: marker }))).Item) {
      progress(`catalog of ${segments.toLocaleString('en')} segments: kept from an earlier run`);
      const backfilled = await ensureView(documents, table, segments);
      return { table, ...(backfilled ? { backfilled } : {}) };
    }
    progress(`loading the catalog of ${segments.toLocaleString('en')} segments and 200 databases into dynalite…`);
    const started = performance.now();
    await loadCatalog({ documents, table, catalog: new DynamoCatalog(documents, table), walCatalog: new DynamoWalCatalog(documents, table), storage: new FolderStorage(join(dir, `repo-${segments}`)) }, new Shape(segments, END), progress);
    await documents.send(new PutCommand({ TableName: table, Item: { ...marker, at: new Date().toISOString() } }));
    return { table, loadedMs: performance.now() - started };
  } finally {
    client.destroy();
  }
}

/** Runs one question in a child process of this program and returns its answer. */
async function ask(question: Question, settings: { endpoint: string; table: string; dir: string; segments: number; runs: number }): Promise<Answer> {
  const args = ['--enable-source-maps', '--expose-gc', process.argv[1]!, '--question', question, '--endpoint', settings.endpoint, '--table', settings.table, '--dir', settings.dir, '--segments', String(settings.segments), '--runs', String(settings.runs)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`the "${question}" process exited with ${code}`);
  return JSON.parse(out) as Answer;
}

function row(question: Question, small: Answer, large: Answer): string[] {
  const ms = (answer: Answer) => median(answer.ms);
  const within = ms(large) < BUDGET_MS && large.rssMiB < BUDGET_MIB && small.rssMiB < BUDGET_MIB && ms(small) < BUDGET_MS;
  return [
    question,
    `${ms(small).toFixed(0)} / ${ms(large).toFixed(0)}`,
    (ms(large) / ms(small)).toFixed(2),
    `${median(small.cpuMs ?? [NaN]).toFixed(0)} / ${median(large.cpuMs ?? [NaN]).toFixed(0)}`,
    `${small.rssMiB.toFixed(0)} / ${large.rssMiB.toFixed(0)}`,
    `${small.heldHeapMiB?.toFixed(1) ?? '?'} / ${large.heldHeapMiB?.toFixed(1) ?? '?'}`,
    `${small.requests} / ${large.requests}`,
    `${small.items} / ${large.items}`,
    `${small.heads} / ${large.heads}`,
    within ? 'yes' : 'NO',
    large.result,
  ];
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { segments: { type: 'string' }, small: { type: 'string' }, runs: { type: 'string' }, keep: { type: 'boolean' }, dir: { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const segments = Number(values.segments ?? 1_000_000);
  const small = Number(values.small ?? 100_000);
  const runs = Number(values.runs ?? 3);
  if (![segments, small, runs].every((value) => Number.isInteger(value) && value > 0) || small < 1000 || segments < small) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  return runBench(progress, async ({ signal, cleanups }) => {
    const dir = values.keep ? (values.dir ?? join(tmpdir(), 'strongbox-bench-catalog')) : await mkdtemp(join(tmpdir(), 'strongbox-bench-catalog-'));
    await mkdir(dir, { recursive: true });
    if (!values.keep) cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const dynalite = await startDynaliteChild(join(dir, 'dynalite'));
    cleanups.push(async () => {
      dynalite.child.kill();
      await new Promise((done) => dynalite.child.once('exit', done));
    });
    const sizes = [small, segments];
    const tables = [];
    for (const size of sizes) {
      tables.push(await ensureLoaded(dynalite.endpoint, dir, size));
      signal.throwIfAborted();
    }
    const answers = new Map<string, Answer>();
    for (const question of QUESTIONS) {
      for (const [index, size] of sizes.entries()) {
        progress(`${question} at ${size.toLocaleString('en')} segments…`);
        answers.set(`${question}@${size}`, await ask(question, { endpoint: dynalite.endpoint, table: tables[index]!.table, dir: join(dir, `repo-${size}`), segments: size, runs }));
        signal.throwIfAborted();
      }
    }
    // One run in a fresh process (a CLI's `status`, a cold Lambda): the peak without the garbage of the runs before it.
    const once: string[] = [];
    for (const question of ['status, 200 databases', 'retention plan, 200 databases'] as const) {
      const single = await ask(question, { endpoint: dynalite.endpoint, table: tables[1]!.table, dir: join(dir, `repo-${segments}`), segments, runs: 1 });
      once.push(`${question} ${single.ms[0]!.toFixed(0)} ms, ${single.rssMiB.toFixed(0)} MiB`);
      signal.throwIfAborted();
    }
    process.stdout.write(`\n## Catalog questions at ${small.toLocaleString('en')} and ${segments.toLocaleString('en')} WAL segments (200 databases, dynalite on disk)\n\n`);
    process.stdout.write(
      `${markdownTable(
        ['question (busy database unless said)', `ms, median of ${runs} (${small / 1000}k / ${segments / 1000}k)`, '× (large / small)', 'own CPU ms (not dynalite\'s)', 'peak RSS MiB', 'heap after GC, answer held, MiB', 'DynamoDB requests', 'items read', 'storage HEADs', `under ${BUDGET_MS} ms and ${BUDGET_MIB} MiB`, `answer at ${segments.toLocaleString('en')}`],
        QUESTIONS.map((question) => row(question, answers.get(`${question}@${small}`)!, answers.get(`${question}@${segments}`)!)),
      )}\n\n`,
    );
    for (const [index, size] of sizes.entries()) {
      const { loadedMs: loaded, backfilled } = tables[index]!;
      const migrated = backfilled ? `; written before the WAL view: backfilled in ${(backfilled.ms / 1000).toFixed(1)} s (${backfilled.items.toLocaleString('en')} items of 200 databases)` : '';
      process.stdout.write(`- catalog of ${size.toLocaleString('en')} segments: ${loaded === undefined ? 'kept from an earlier run (--keep)' : `loaded in ${(loaded / 1000).toFixed(0)} s`}${migrated}\n`);
    }
    process.stdout.write(`- each question ran ${runs} times in its own process; first-run (cold) times: ${QUESTIONS.map((question) => `${question} ${answers.get(`${question}@${segments}`)!.ms[0]!.toFixed(0)} ms`).join(', ')}\n`);
    process.stdout.write(`- one run in a fresh process at ${segments.toLocaleString('en')} (time, peak RSS): ${once.join('; ')}\n`);
    process.stdout.write(`- machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average ${loadavg().map((value) => value.toFixed(1)).join(' ')}, Node ${process.version}\n`);
  });
}

muteSdkNodeVersionWarning();
const { values: child } = parseArgs({ strict: false, options: { question: { type: 'string' }, endpoint: { type: 'string' }, table: { type: 'string' }, dir: { type: 'string' }, segments: { type: 'string' }, runs: { type: 'string' } } });
if (typeof child.question === 'string') {
  const result = await answer({ question: child.question as Question, endpoint: String(child.endpoint), table: String(child.table), dir: String(child.dir), segments: Number(child.segments), end: END, runs: Number(child.runs) });
  process.stdout.write(JSON.stringify(result));
} else {
  process.exitCode = await main();
}
