/**
 * `npm run bench:retention [-- --segments N --runs N]`: a generated catalog of three years
 * (100 000 WAL segments by default, daily/weekly/monthly logical backups and weekly base
 * backups of three databases, the restore points of the last three days) loaded into a
 * real dynalite; then the retention planner timed with the DynamoDB items it reads, a
 * dry run, the apply of the WAL cut-offs (catalog side: the storage only counts the keys
 * it is asked to delete) and a second apply. docs/benchmarks.md explains it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoCatalog, makeDynamoClient, toDocumentClient } from '../shared/adapters/catalog';
import { DynamoWalCatalog } from '../shared/adapters/catalog/dynamo-wal';
import { FolderStorage } from '../shared/adapters/storage/folder';
import type { Storage } from '../shared/ports/storage';
import { DEFAULT_RETENTION_POLICY, planRetention } from '../shared/domain/retention';
import { ensureCatalogTable, startDynalite } from '../shared/local/dynalite-server';
import { silentLog } from '../shared/ports';
import { muteSdkNodeVersionWarning } from '../shared/runtime/node-warnings';
import { applyRetention, readAndPlan, type RetentionDeps } from '../shared/usecases/retention';
import { runBench } from './harness';
import { markdownTable, median } from './measure';
import { countReads } from './retention/counter';
import { deletionThroughput } from './retention/throughput';
import { S3RVER_CHILD_FLAG, serveS3rverChild, startS3rverChild } from './s3rver-child';
import { S3RVER_CREDENTIALS } from '../test/support/s3-server';
import { makeS3Client } from '../shared/adapters/storage/s3-client';
import { S3Storage } from '../shared/adapters/storage/s3';
import { startDynaliteChild } from './dynalite-child';
import { loadFixture } from './retention/fixture';

const USAGE = `usage: npm run bench:retention -- [--segments N] [--runs N] [--throughput-segments N] [--latency-ms N]
  --segments N             WAL segments over the three databases (default 100000)
  --runs N                 timed planning runs; medians are reported (default 5)
  --throughput-segments N  segments deleted by each WAL deletion variant, s3rver + dynalite (default 4000; 0 skips)
  --latency-ms N           round trip added to every request in the second pair of variants (default 20)`;

const NOW = new Date('2026-06-15T12:00:00.000Z');
const TABLE = 'bench-retention';

function options(): { segments: number; runs: number; throughput: number; latencyMs: number } {
  const { values } = parseArgs({ options: { segments: { type: 'string' }, runs: { type: 'string' }, 'throughput-segments': { type: 'string' }, 'latency-ms': { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const segments = Number(values.segments ?? 100_000);
  const runs = Number(values.runs ?? 5);
  const throughput = Number(values['throughput-segments'] ?? 4000);
  const latencyMs = Number(values['latency-ms'] ?? 20);
  if (!Number.isInteger(segments) || segments < 1000 || !Number.isInteger(runs) || runs < 1 || !Number.isInteger(throughput) || throughput < 0 || !Number.isInteger(latencyMs) || latencyMs < 0) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  return { segments, runs, throughput, latencyMs };
}

/** A storage that counts the keys retention asks it to delete, and answers the rest from `inner`. */
function countingStorage(inner: Storage, deleted: { keys: number; calls: number }): Storage {
  return new Proxy(inner, {
    get(target, property) {
      if (property === 'delete') {
        return async (keys: readonly string[]) => {
          deleted.keys += keys.length;
          deleted.calls += 1;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function ms(value: number): string {
  return value < 10 ? value.toFixed(2) : value.toFixed(0);
}

const progress = (line: string) => process.stderr.write(`${line}\n`);

async function throughputSection(settings: { throughput: number; latencyMs: number }, cleanups: Array<() => Promise<void>>): Promise<void> {
  // Both stand-ins in processes of their own, as AWS's services are not on this event loop.
  const dynalite = await startDynaliteChild();
  cleanups.push(async () => {
    dynalite.child.kill();
    await new Promise((done) => dynalite.child.once('exit', done));
  });
  const client = makeDynamoClient({ endpoint: dynalite.endpoint });
  cleanups.push(async () => client.destroy());
  const dynamo = { client, documents: toDocumentClient(client) };
  const s3rver = await startS3rverChild();
  cleanups.push(s3rver.stop);
  const s3 = makeS3Client({ endpoint: s3rver.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: S3RVER_CREDENTIALS });
  cleanups.push(async () => s3.destroy());
  const rows = await deletionThroughput({ ...dynamo, s3, storage: new S3Storage(s3, s3rver.bucket), segments: settings.throughput, latencyMs: settings.latencyMs, progress });
  const base = (latencyMs: number) => rows.find((row) => row.latencyMs === latencyMs && row.variant.startsWith('before'))!.perSecond;
  process.stdout.write(`\n## WAL deletion throughput: before and after (s3rver + dynalite, each in its own process, same run)\n\n`);
  process.stdout.write(
    `${markdownTable(
      ['variant', 'added latency per request', 'segments', 'seconds', 'segments/s', '× before', 'DeleteObjects', 'BatchWriteItem'],
      rows.map((row) => [row.variant, `${row.latencyMs} ms`, String(row.segments), row.seconds.toFixed(2), row.perSecond.toFixed(0), (row.perSecond / base(row.latencyMs)).toFixed(2), String(row.deleteObjects), String(row.batchWrites)]),
    )}\n\n`,
  );
  const fastest = rows.filter((row) => row.latencyMs === settings.latencyMs && row.variant.startsWith('after'))[0];
  if (fastest) process.stdout.write(`At ${fastest.perSecond.toFixed(0)} segments/s (with ${settings.latencyMs} ms a request), a day of a database writing 10 segments/s (864,000) is deleted in ${(864_000 / fastest.perSecond / 60).toFixed(1)} min.\n`);
}

const bench = () => runBench(progress, async ({ signal, cleanups }) => {
  muteSdkNodeVersionWarning();
  const { segments, runs, throughput, latencyMs } = options();
  const dir = await mkdtemp(join(tmpdir(), 'strongbox-bench-retention-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const dynalite = await startDynalite({});
  cleanups.push(() => dynalite.stop());
  const client = makeDynamoClient({ endpoint: dynalite.endpoint });
  cleanups.push(async () => client.destroy());
  await ensureCatalogTable(client, TABLE);
  const documents = toDocumentClient(client);
  const catalog = new DynamoCatalog(documents, TABLE);
  const walCatalog = new DynamoWalCatalog(documents, TABLE);
  const storage = new FolderStorage(join(dir, 'repo'));

  progress(`loading a generated catalog of 3 years (${segments} WAL segments) into dynalite…`);
  const loadStart = performance.now();
  const summary = await loadFixture({ client: documents, table: TABLE, catalog, walCatalog, storage, now: NOW, segments, progress });
  progress(`loaded in ${((performance.now() - loadStart) / 1000).toFixed(1)} s`);
  signal.throwIfAborted();

  const counter = countReads(client);
  const deleted = { keys: 0, calls: 0 };
  const deps: RetentionDeps = { storage: countingStorage(storage, deleted), catalog, walCatalog, log: silentLog, alerts: { publish: async () => undefined }, clock: () => NOW };
  const policy = DEFAULT_RETENTION_POLICY;

  // 1. Read and plan (what every retention run does first), `runs` times.
  const planTimes: number[] = [];
  let reads = counter.snapshot();
  let planned: Awaited<ReturnType<typeof readAndPlan>> | undefined;
  for (let run = 0; run < runs; run += 1) {
    counter.reset();
    const started = performance.now();
    planned = await readAndPlan(deps, { policy, dryRun: true }, NOW);
    planTimes.push(performance.now() - started);
    reads = counter.snapshot();
    signal.throwIfAborted();
  }
  // 2. The pure planner alone, on what was read.
  const listTimes: number[] = [];
  let listReads = counter.snapshot();
  let backups = await catalog.listAll();
  for (let run = 0; run < runs; run += 1) {
    counter.reset();
    const begun = performance.now();
    backups = await catalog.listAll();
    listTimes.push(performance.now() - begun);
    listReads = counter.snapshot();
  }
  const pureTimes: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const started = performance.now();
    planRetention({ backups, wal: planned!.wal!.views, restorePoints: planned!.wal!.restorePoints }, policy, NOW);
    pureTimes.push(performance.now() - started);
  }
  const plan = planned!.plan;
  // 3. A dry run (adds one COUNT Query per timeline to size the WAL deletions).
  counter.reset();
  let started = performance.now();
  const dry = await applyRetention(deps, { policy, dryRun: true });
  const dryMs = performance.now() - started;
  const dryReads = counter.snapshot();
  // 4. Apply, then apply again.
  counter.reset();
  started = performance.now();
  const applied = await applyRetention(deps, { policy, dryRun: false });
  const applyMs = performance.now() - started;
  const applyReads = counter.snapshot();
  const applyDeletes = { ...deleted };
  counter.reset();
  deleted.keys = 0;
  started = performance.now();
  const again = await applyRetention(deps, { policy, dryRun: false });
  const againMs = performance.now() - started;
  const againReads = counter.snapshot();

  // 5. Steady state: read and plan again over the pruned catalog.
  const steadyTimes: number[] = [];
  let steadyReads = counter.snapshot();
  for (let run = 0; run < runs; run += 1) {
    counter.reset();
    const begun = performance.now();
    await readAndPlan(deps, { policy, dryRun: true }, NOW);
    steadyTimes.push(performance.now() - begun);
    steadyReads = counter.snapshot();
  }

  const walPlanned = plan.wal.filter((decision) => decision.action === 'delete');
  const count = (action: string) => plan.decisions.filter((decision) => decision.action === action).length;
  const walSegments = (report: typeof dry) => report.wal.reduce((sum, line) => sum + line.segments, 0);
  process.stdout.write(`\n## Retention planning over 3 years of catalog\n\n`);
  process.stdout.write(`Catalog: ${summary.segments} WAL segments, ${summary.logical} logical and ${summary.base} base backups, ${summary.restorePoints} restore points, databases ${summary.databases.join(', ')} (app switches to timeline 2). Policy: the defaults.\n\n`);
  process.stdout.write(
    `${markdownTable(
      ['step', 'time (ms)', 'DynamoDB requests', 'items read', 'Scans', 'result'],
      [
        ['read + plan (median)', ms(median(planTimes)), String(reads.requests), String(reads.itemsRead), String(reads.scans), `${plan.decisions.length} backups (${count('delete')} delete, ${count('cold')} cold), ${walPlanned.length} WAL cut-offs, ${plan.restorePoints.length} restore points`],
        ['of which: list every backup (median)', ms(median(listTimes)), String(listReads.requests), String(listReads.itemsRead), String(listReads.scans), `${backups.length} entries, Query on the byEntity index`],
        ['planRetention alone (median)', ms(median(pureTimes)), '0', '0', '0', 'pure, in memory'],
        ['dry run (+ COUNT per timeline)', ms(dryMs), String(dryReads.requests), String(dryReads.itemsRead), String(dryReads.scans), `would delete ${dry.deleted.length} backups, up to ${walSegments(dry)} WAL segments, ${dry.restorePoints.deleted.length} restore points`],
        ['apply (catalog side)', ms(applyMs), String(applyReads.requests), String(applyReads.itemsRead), String(applyReads.scans), `deleted ${applied.deleted.length} backups, ${walSegments(applied)} WAL segments (${applyDeletes.keys} keys in ${applyDeletes.calls} storage batches), ${applied.restorePoints.deleted.length} restore points`],
        ['read + plan after apply (median)', ms(median(steadyTimes)), String(steadyReads.requests), String(steadyReads.itemsRead), String(steadyReads.scans), 'the steady state: what each daily run reads'],
        ['apply again', ms(againMs), String(againReads.requests), String(againReads.itemsRead), String(againReads.scans), `deleted ${again.deleted.length} backups, ${walSegments(again)} WAL segments, ${deleted.keys} keys`],
      ],
    )}\n\n`,
  );
  for (const line of plan.wal) process.stdout.write(`- ${line.database}: ${line.rule} — ${line.reason}\n`);
  process.stdout.write(`\nplan runs (ms): ${planTimes.map(ms).join(', ')}\n`);
  if (throughput > 0) await throughputSection({ throughput, latencyMs }, cleanups);
  process.stdout.write(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average ${loadavg().map((value) => value.toFixed(1)).join(' ')}, Node ${process.version}; dynalite in memory\n`);
});

if (process.argv.slice(2).includes(S3RVER_CHILD_FLAG)) {
  await serveS3rverChild();
} else {
  const code = await bench();
  process.exit(code);
}
