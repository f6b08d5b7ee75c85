/**
 * The four catalog questions of `npm run bench:catalog`, each run in its own child process
 * (so its RSS is the question's, Node's and the SDK's, nothing of the loader): the 15-minute
 * gap check, a PITR plan to a time inside the window, `status` and the retention plan, of
 * the busy database; `status` and the retention plan of all 200, from the catalog's WAL view
 * and, side by side, database by database as before it (a WAL catalog that hides its view);
 * and the baseline every question's RSS starts from (Node, the SDK loaded, one GetItem).
 */
import { readFileSync } from 'node:fs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoCatalog, makeDynamoClient, toDocumentClient } from '../../shared/adapters/catalog';
import { DynamoWalCatalog } from '../../shared/adapters/catalog/dynamo-wal';
import { FolderStorage } from '../../shared/adapters/storage/folder';
import type { Storage } from '../../shared/ports/storage';
import type { WalCatalog } from '../../shared/ports/wal-catalog';
import { DEFAULT_RETENTION_POLICY } from '../../shared/domain/retention';
import { parseWalRecordKey } from '../../shared/domain/wal/keys';
import { formatLsn, parseWalName, segmentName, segmentStartLsn } from '../../shared/domain/wal/names';
import { silentLog } from '../../shared/ports';
import { planRecovery } from '../../shared/usecases/pitr';
import { readAndPlan } from '../../shared/usecases/retention';
import { readStatus } from '../../shared/usecases/status';
import { findArchiveGap } from '../../shared/usecases/wal-gap';
import { BUSY, SEGMENT_SIZE, Shape } from './fixture';

export const QUESTIONS = [
  'gap check',
  'PITR plan',
  'status',
  'retention plan',
  'status, 200 databases',
  'retention plan, 200 databases',
  'status, 200 databases, database by database (no WAL view)',
  'retention plan, 200 databases, database by database (no WAL view)',
  'baseline: Node, the SDK, one GetItem',
] as const;
export type Question = (typeof QUESTIONS)[number];

/** What the child reports. */
export interface Answer {
  question: Question;
  /** Wall time of each run (the first is cold: the process's first requests). */
  ms: number[];
  /** CPU time of this process (user + system) in each run: the question's own work, without dynalite's. */
  cpuMs?: number[];
  requests: number;
  items: number;
  heads: number;
  /** V8's heap after a full collection with the last answer still held (the child runs with --expose-gc): what the data costs beside the baseline's. */
  heldHeapMiB?: number;
  /** Peak RSS of the child process: its VmHWM (getrusage's maxRSS would carry the parent's over the exec). */
  rssMiB: number;
  result: string;
}

function counting(client: DynamoDBClient, counts: { requests: number; items: number }): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      counts.requests += 1;
      const output = out.output as { Items?: unknown[]; Item?: unknown; Responses?: Record<string, unknown[]> };
      counts.items += output.Items?.length ?? (output.Item ? 1 : 0) + Object.values(output.Responses ?? {}).reduce((sum, list) => sum + list.length, 0);
      return out;
    },
    { step: 'initialize', name: 'benchCatalogCounter' },
  );
}

/**
 * The repository folder holds the one history file; `head` answers for WAL records from
 * the fixture's shape (1M record objects on disk would measure the disk, not the plan)
 * and counts the HEADs.
 */
function storageStandIn(dir: string, shape: Shape, counts: { heads: number }): Storage {
  const folder = new FolderStorage(dir);
  return new Proxy(folder, {
    get(target, property) {
      if (property === 'head') {
        return async (key: string) => {
          counts.heads += 1;
          const name = parseWalRecordKey(key)?.name;
          if (name && /^[0-9A-F]{24}$/.test(name)) {
            const segno = Number(parseWalName(name, SEGMENT_SIZE).segno);
            const present = segno < shape.segments && !shape.missing(segno) && shape.timelineOf(segno) === parseWalName(name).timeline;
            return present ? { key, size: 600, lastModified: new Date(shape.at(segno)) } : undefined;
          }
          return target.head(key);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The WAL catalog as one without a WAL view: status and retention read database by database (the code before the view). */
function withoutView(walCatalog: WalCatalog): WalCatalog {
  const hidden = new Set<PropertyKey>(['readViews', 'backfillView', 'markViewComplete']);
  return new Proxy(walCatalog, {
    get(target, property) {
      if (hidden.has(property)) return undefined;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Runs `question` `runs` times against the table; returns the answer for the parent. */
export async function answer(settings: { question: Question; endpoint: string; table: string; dir: string; segments: number; end: number; runs: number }): Promise<Answer> {
  const shape = new Shape(settings.segments, settings.end);
  const client = makeDynamoClient({ endpoint: settings.endpoint });
  const counts = { requests: 0, items: 0, heads: 0 };
  counting(client, counts);
  const documents = toDocumentClient(client);
  const catalog = new DynamoCatalog(documents, settings.table);
  const walCatalog = new DynamoWalCatalog(documents, settings.table);
  const storage = storageStandIn(settings.dir, shape, counts);
  const deps = { catalog, walCatalog, storage, log: silentLog };
  const all = [BUSY, ...Array.from({ length: 199 }, (_, index) => `db${String(index + 1).padStart(3, '0')}`)];
  /** The last answer, kept until the heap is measured. */
  let held: unknown;
  const run = async (): Promise<string> => {
    switch (settings.question) {
      case 'gap check': {
        const switched = { lsn: formatLsn(segmentStartLsn(BigInt(shape.segments))), segment: segmentName(2, BigInt(shape.segments - 1)), timeline: 2 };
        const gap = await findArchiveGap({ ...deps, readHistory: async () => shape.history() }, { database: BUSY, switched, segmentSize: SEGMENT_SIZE, archivedThrough: switched.segment, graceMs: 0 });
        return `base ${gap.baseBackupId}, ${gap.missingCount} missing in ${gap.missing.length} run(s)`;
      }
      case 'PITR plan': {
        const { plan } = await planRecovery(deps, BUSY, { type: 'time', at: new Date(shape.at(Math.round(shape.segments * 0.65))), assumedUtc: false });
        return `base ${plan.base.id}, timelines ${plan.timelines.join('→')}, ${plan.wal.count.toLocaleString('en')} segments`;
      }
      case 'status':
      case 'status, 200 databases':
      case 'status, 200 databases, database by database (no WAL view)': {
        const one = settings.question === 'status';
        const report = await readStatus(settings.question.endsWith('(no WAL view)') ? { ...deps, walCatalog: withoutView(walCatalog) } : deps, { databases: one ? [BUSY] : all, now: shape.now });
        held = report;
        const busy = report.databases[0]!;
        return `${report.databases.length} database(s); busy: ${busy.pitr.archivedSegments.toLocaleString('en')} segments, ${busy.pitr.gaps.length} gaps`;
      }
      case 'retention plan':
      case 'retention plan, 200 databases':
      case 'retention plan, 200 databases, database by database (no WAL view)': {
        const planDeps = { ...deps, ...(settings.question.endsWith('(no WAL view)') ? { walCatalog: withoutView(walCatalog) } : {}), alerts: { publish: async () => undefined }, clock: () => shape.now };
        const { plan } = (held = await readAndPlan(planDeps, { policy: DEFAULT_RETENTION_POLICY, dryRun: true, ...(settings.question === 'retention plan' ? { database: BUSY } : {}) }, shape.now));
        return `${plan.decisions.length} backups, ${plan.wal.filter((line) => line.action === 'delete').length} WAL cut-off(s)`;
      }
      case 'baseline: Node, the SDK, one GetItem': {
        // What every question's RSS starts from: the process, the SDK loaded, one request made.
        const found = await documents.send(new GetCommand({ TableName: settings.table, Key: { pk: 'BENCH#CATALOG', sk: `LOADED#${settings.segments}` } }));
        return found.Item ? 'the loaded marker' : 'no marker';
      }
    }
  };
  const ms: number[] = [];
  const cpuMs: number[] = [];
  let result = '';
  let reads = { ...counts };
  for (let index = 0; index < settings.runs; index += 1) {
    Object.assign(counts, { requests: 0, items: 0, heads: 0 });
    const started = performance.now();
    const cpu = process.cpuUsage();
    result = await run();
    ms.push(performance.now() - started);
    const spent = process.cpuUsage(cpu);
    cpuMs.push((spent.user + spent.system) / 1000);
    reads = { ...counts };
  }
  client.destroy();
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  // Read after the collection: the answer is still reachable while the heap is measured.
  const heldHeapMiB = gc && held !== null ? process.memoryUsage().heapUsed / 1024 / 1024 : undefined;
  return { question: settings.question, ms, cpuMs, ...reads, rssMiB: peakRssMiB(), ...(heldHeapMiB !== undefined ? { heldHeapMiB } : {}), result };
}

/** This process's own high-water RSS (VmHWM), in MiB. */
function peakRssMiB(): number {
  const kib = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return Number(kib) / 1024;
}
