import { catalogIndexHandler } from '../../functions/catalog-index';
import { checksumHandler } from '../../functions/checksum';
import type { Catalog } from '../ports/catalog';
import type { WalCatalog } from '../ports/wal-catalog';
import type { Storage } from '../ports/storage';
import { MANIFEST_NAME } from '../domain/keys';
import { parseWalRecordKey } from '../domain/wal/keys';
import { objectCreatedEvent } from '../domain/object-event';
import type { AlertPublisher, Clock, Log, Reverifier } from '../ports';
import { walCodec } from '../adapters/wal-codec/inspect';
import { BackgroundQueue } from './background-queue';

/**
 * Local mode's stand-in for the bucket notification: every completed write of a
 * manifest or a WAL record (the same filters as serverless.yml) becomes an S3
 * ObjectCreated event in AWS's shape, delivered to the catalog-index and (manifests only)
 * checksum functions, in that order. WAL records written while an earlier delivery of
 * records runs are delivered together, as one event of several records (as a function fed
 * by a queue gets them): a burst of pushes costs the catalog one batched write per event
 * (indexWalRecords), not one per file. Each write waits until its own record was
 * delivered, unless `walIndexWindow` is given (the long-running `npm start`): then a
 * write answers once its record is stored, as a push in AWS answers before S3's event
 * reaches the catalog-index function, and records are delivered in batches formed over
 * that window (docs/wal.md, "Indexing"); `indexed()` resolves once every record written
 * so far was delivered, `indexNow()` the same without waiting out the window (the server,
 * before it stops the catalog).
 * A handler failure is logged (in AWS the event would be retried; here the next
 * `strongbox catalog rebuild` or the watchdog picks it up).
 *
 * The decoded check of a record presign mode's `complete` deferred (docs/wal.md, "The
 * deferred decoded check") runs inside the delivery, before the record is indexed, unless
 * `deferChecks`: then on a background queue, as S3's asynchronous event runs it in AWS (the
 * benchmark's AWS-shaped path); `idle()` resolves once the queued ones have run.
 */
export function deliverObjectEvents(
  deps: { storage: Storage; catalog: Catalog; walCatalog: WalCatalog; alerts: AlertPublisher; log: Log; clock: Clock },
  options: { deferChecks?: boolean; walIndexWindow?: BatchWindow } = {},
): { idle(): Promise<void>; indexed(): Promise<void>; indexNow(): Promise<void>; stats(): { ran: number; busyMs: number }; hold(): void; release(): void } {
  const checks = new BackgroundQueue({ name: 'deferred WAL checks', log: deps.log });
  const deferCheck = options.deferChecks ? (job: () => Promise<void>) => void checks.push(job) : undefined;
  const index = catalogIndexHandler({ ...deps, codec: walCodec, ...(deferCheck ? { deferCheck } : {}) });
  const checksum = checksumHandler(deps);
  const deliver = async (objects: readonly CreatedInfo[], handlers: ReadonlyArray<readonly [string, (event: unknown) => Promise<unknown>]>) => {
    const event = { Records: objects.flatMap((object) => objectCreatedEvent({ bucket: object.bucket, key: object.key, size: object.size, etag: object.etag, time: deps.clock() }).Records) };
    for (const [name, handle] of handlers) {
      try {
        await handle(event);
      } catch (error) {
        deps.log.error('local event handler failed', { function: name, keys: objects.map((object) => object.key).join(',').slice(0, 400), error: (error as Error).message });
      }
    }
  };
  const window = options.walIndexWindow ?? { windowMs: 0 };
  const walRecords = inBatches<CreatedInfo>((objects) => deliver(objects, [['catalog-index', index]]), window);
  deps.storage.onObjectCreated(async (object) => {
    if (parseWalRecordKey(object.key) !== undefined) {
      const delivered = walRecords.add(object);
      return window.windowMs > 0 ? undefined : delivered;
    }
    if (object.key.endsWith(MANIFEST_NAME)) await deliver([object], [['catalog-index', index], ['checksum', checksum]]);
  });
  return { idle: () => checks.idle(), indexed: () => walRecords.settled(), indexNow: () => walRecords.flush(), stats: () => checks.stats(), hold: () => checks.hold(), release: () => checks.release() };
}

type CreatedInfo = Parameters<Parameters<Storage['onObjectCreated']>[0]>[0];

/**
 * How long `npm start` lets WAL records gather before it indexes them: up to 1 s while
 * they keep coming, 100 ms after the last one. A backlog's pushes (one every ~35 ms) then
 * cost the catalog a few batched writes a second instead of five calls each: ~3 ms less
 * CPU a segment than with 200 ms batches (docs/benchmarks.md, session 13). The catalog
 * is at most 1 s behind the archive through a backlog, 0.1 s after a lone segment (plus
 * the batch's indexing); S3's events to the catalog-index function in AWS are seldom faster.
 */
export const SERVER_WAL_INDEX_WINDOW: BatchWindow = { windowMs: 1_000, quietMs: 100 };

/** The most records one event carries (BatchGetItem reads 100 keys at a time). */
const MAX_BATCH = 100;

/** How long a batch gathers. */
export interface BatchWindow {
  /** How long the first item of a batch waits for others (0: the batch goes at once). */
  windowMs: number;
  /** With it, the batch also goes once no item came for this long (a burst's end). */
  quietMs?: number;
}

/** How `inBatches` waits: `sleep` resolves after `ms` (real timers unless a test gives its own). */
export interface BatchTiming extends BatchWindow {
  now?: () => number;
  sleep?: (ms: number, wake: Promise<void>) => Promise<void>;
}

/** What `inBatches` gives: `add` resolves once its item was delivered; `settled` once nothing waits or runs; `flush` is `settled` without waiting for windows. */
export interface Batches<T> {
  add(item: T): Promise<void>;
  settled(): Promise<void>;
  flush(): Promise<void>;
}

/**
 * Delivery in batches: the items added while a delivery runs wait for the next one, which
 * takes them all (at most MAX_BATCH). With a window, a batch also waits until its first
 * item is `windowMs` old, or its last one `quietMs` old (or MAX_BATCH items wait): what
 * Lambda's batching window does for a function fed by a queue. `deliver` never rejects.
 */
export function inBatches<T>(deliver: (items: readonly T[]) => Promise<void>, timing: BatchTiming = { windowMs: 0 }): Batches<T> {
  const now = timing.now ?? (() => performance.now());
  const sleep = timing.sleep ?? realSleep;
  const waiting: Array<{ item: T; at: number; done: () => void }> = [];
  let wakeUp: (() => void) | undefined;
  let draining: Promise<void> | undefined;
  // Flushes under way: while any is, batches go without waiting for their window.
  let hurry = 0;
  const dueIn = () => Math.min(waiting[0]!.at + timing.windowMs, timing.quietMs === undefined ? Infinity : waiting.at(-1)!.at + timing.quietMs) - now();
  const drain = async () => {
    while (waiting.length > 0) {
      // Items added during a sleep move the quiet end later: sleep again until the batch is due.
      for (let due = dueIn(); due > 0 && waiting.length < MAX_BATCH && hurry === 0; due = dueIn()) {
        await sleep(due, new Promise<void>((wake) => (wakeUp = wake)));
        wakeUp = undefined;
      }
      const batch = waiting.splice(0, MAX_BATCH);
      await deliver(batch.map(({ item }) => item));
      for (const { done } of batch) done();
    }
    draining = undefined;
  };
  const settled = async () => {
    while (draining) await draining;
  };
  return {
    add: (item) =>
      new Promise<void>((done) => {
        waiting.push({ item, at: now(), done });
        if (waiting.length >= MAX_BATCH) wakeUp?.();
        draining ??= drain();
      }),
    settled,
    async flush() {
      hurry += 1;
      wakeUp?.();
      try {
        await settled();
      } finally {
        hurry -= 1;
      }
    },
  };
}

/** Resolves after `ms`, or when `wake` does (the timer then cleared). */
function realSleep(ms: number, wake: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))), wake]).finally(() => clearTimeout(timer));
}

/**
 * Local mode's way of asking for a verification again (the watchdog, for an entry left
 * UPLOADED): the manifest's ObjectCreated event handed to the checksum handler in-process,
 * as the first delivery did.
 */
export function localReverifier(deps: { storage: Storage; catalog: Catalog; alerts: AlertPublisher; log: Log; clock: Clock }): Reverifier {
  const checksum = checksumHandler(deps);
  return {
    async reverify(manifestKey) {
      await checksum(objectCreatedEvent({ bucket: deps.storage.bucket, key: manifestKey, size: 0, time: deps.clock() }));
    },
  };
}
