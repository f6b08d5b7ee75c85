/**
 * What every benchmark's entry point does the same way: Ctrl-C / SIGTERM stop it and clean
 * up (a second signal quits at once), cleanups run in reverse order whatever happens, and
 * the exit code is 0, 1 (failed) or 130 (interrupted).
 */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LOCAL_TABLE, localCatalog, localWalCatalog } from '../shared/local/context';
import { ensureCatalogTable, startDynalite } from '../shared/local/dynalite-server';
import type { Catalog } from '../shared/ports/catalog';
import type { WalCatalog } from '../shared/ports/wal-catalog';

/** Handed to a benchmark's body. */
export interface BenchContext {
  /** Aborted by the first SIGINT / SIGTERM. */
  signal: AbortSignal;
  /** Run in reverse order when the body ends, however it ends. */
  cleanups: Array<() => Promise<void>>;
}

/** Runs `body` with signal handling and cleanups; resolves with the process exit code. */
export async function runBench(progress: (line: string) => void, body: (context: BenchContext) => Promise<void>): Promise<number> {
  const interrupt = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    if (interrupt.signal.aborted) process.exit(130);
    progress(`${name}: stopping and cleaning up (send it again to quit without cleaning up)`);
    interrupt.abort(new Error(`interrupted by ${name}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const cleanups: Array<() => Promise<void>> = [];
  try {
    await body({ signal: interrupt.signal, cleanups });
    return 0;
  } catch (error) {
    if (interrupt.signal.aborted) {
      progress('interrupted');
      return 130;
    }
    progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  } finally {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error: unknown) => progress(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`));
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * The common part of a benchmark's option parsing: prints `usage` and exits 0 on `--help`,
 * and returns the reader of positive whole-number options (`--runs 3`), which refuses
 * anything else with the usage.
 */
export function benchOptions(help: boolean | undefined, usage: string): (text: string | undefined, fallback: number, name: string) => number {
  if (help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return (text, fallback, name) => {
    const value = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer\n${usage}`);
    return value;
  };
}

/** A catalog for one benchmark run: dynalite on 127.0.0.1 with the catalog table, as local mode has it. */
export interface BenchCatalog {
  endpoint: string;
  catalog: Catalog;
  walCatalog: WalCatalog;
}

/** Starts dynalite with the catalog table; `cleanups` stops it. */
export async function startBenchCatalog(cleanups: Array<() => Promise<unknown>>): Promise<BenchCatalog> {
  const dynalite = await startDynalite({});
  cleanups.push(dynalite.stop);
  await ensureCatalogTable(new DynamoDBClient({ endpoint: dynalite.endpoint, region: 'local', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } }), LOCAL_TABLE);
  return { endpoint: dynalite.endpoint, catalog: localCatalog(dynalite.endpoint), walCatalog: localWalCatalog(dynalite.endpoint) };
}
