/**
 * The `streams` mode of a logical backup (issue 15 point 6, docs/backups.md): one exported
 * snapshot read by several `pg_dump -Fc` at once — pre-data, the data parts of
 * planDumpGroups, post-data, and a schema-only copy of the definitions — each streamed
 * through SHA-256 into its own object in the
 * backup's folder (no local file). The caller holds the snapshot open until this returns and
 * writes the manifest, which names every part, last.
 */
import { Transform, type Readable } from 'node:stream';
import type { PgConnection } from '../ports/postgres';
import type { Storage, WriteResult } from '../ports/storage';
import type { Compression } from '../domain/backup';
import type { BackupKeys } from '../domain/keys';
import { dumpPartKey, listedTables, planDumpGroups, type DumpGroup, type DumpSection, type SizedTable } from '../domain/dump-groups';
import { objectSizeEstimate } from '../domain/part-plan';
import { exactTablePattern } from '../domain/table-pattern';
import type { Log } from '../ports';
import type { DumpTools, SnapshotSession } from './dump-tools';
import { settleAll } from './settle';

/** One part as written. */
export interface WrittenPart {
  section: DumpSection;
  write: WriteResult;
  /** A listed data part: its tables. */
  tables?: Array<{ schema: string; name: string }>;
  /** The rest data part: every table no other part lists, sequences, large objects. */
  rest?: boolean;
}

export interface StreamsInput {
  connection: PgConnection;
  snapshot: SnapshotSession;
  keys: BackupKeys;
  compression: Compression;
  dataParts: number;
  signal: AbortSignal;
  lockWaitSeconds?: number;
  /** Told the bytes written so far over every part. */
  onBytes?: (bytes: number) => void;
}

/** The tables with their sizes (0 each when the tools cannot tell: then they are spread by count). */
async function sizedTables(tools: DumpTools, input: StreamsInput): Promise<SizedTable[]> {
  const tables = input.snapshot.tables;
  if (!tools.tableSizes) return tables.map((t) => ({ ...t, bytes: 1 }));
  return tools.tableSizes(input.connection, tables, { ...(input.lockWaitSeconds !== undefined ? { lockWaitSeconds: input.lockWaitSeconds } : {}) });
}

/** A data part's pg_dump selection: `-t` of its tables, or for the rest part `--exclude-table-data` of every listed one. */
function selection(group: DumpGroup, groups: readonly DumpGroup[]): { tablePatterns?: string[]; excludeTableData?: string[] } {
  if (!group.rest) return { tablePatterns: group.tables.map(exactTablePattern) };
  const excluded = listedTables(groups).map(exactTablePattern);
  return excluded.length > 0 ? { excludeTableData: excluded } : {};
}

/**
 * Plans the data parts from the tables' sizes, then runs every pg_dump at once, each into its
 * own object. The first failure stops the others (signal); the caller deletes what was
 * written (failBackup with the part keys). Returns the parts in restore order.
 */
export async function writeStreamParts(deps: { storage: Storage; tools: DumpTools; log: Log }, input: StreamsInput): Promise<WrittenPart[]> {
  const groups = planDumpGroups(await sizedTables(deps.tools, input), input.dataParts);
  deps.log.info('parallel dump planned', { parts: groups.length + 3, tables: groups.map((g) => g.tables.length), bytes: groups.map((g) => g.bytes) });
  const local = new AbortController();
  const signal = AbortSignal.any([input.signal, local.signal]);
  const compression = input.compression;
  const common = { snapshotId: input.snapshot.snapshotId, compression, signal, ...(input.lockWaitSeconds !== undefined ? { lockWaitSeconds: input.lockWaitSeconds } : {}) };
  const listedBytes = groups.filter((g) => !g.rest).reduce((sum, g) => sum + g.bytes, 0);
  const specs = [
    { section: 'pre-data' as const, index: 0, select: {}, estimate: undefined as number | undefined },
    ...groups.map((group, index) => ({
      section: 'data' as const,
      index,
      group,
      select: selection(group, groups),
      // The rest part also holds what no table size counts (large objects): the database less the listed tables bounds it.
      estimate: objectSizeEstimate(group.rest ? Math.max(group.bytes, input.snapshot.databaseSizeBytes - listedBytes) : group.bytes, false),
    })),
    { section: 'post-data' as const, index: 0, select: {}, estimate: undefined as number | undefined },
    // Every definition again, with the dependencies a post-data part loses: what restore-table --mode recreate reads.
    { section: 'schema' as const, index: 0, select: {}, estimate: undefined as number | undefined },
  ];
  let total = 0;
  const uploads = specs.map(async (spec) => {
    const key = dumpPartKey(input.keys.prefix, spec.section, spec.index, compression);
    const dump = deps.tools.spawnPgDump(input.connection, { ...common, ...spec.select, section: spec.section });
    const onBytes = input.onBytes;
    const body = onBytes ? counted(dump.stdout, (n) => onBytes((total += n))) : dump.stdout;
    const [write] = await settleAll<[WriteResult, unknown]>(
      [deps.storage.putStream(key, body, { signal, ...(spec.estimate !== undefined && spec.estimate > 0 ? { sizeEstimate: spec.estimate } : {}) }), dump.done],
      (error) => local.abort(error),
    );
    const group = 'group' in spec ? spec.group : undefined;
    const part: WrittenPart = { section: spec.section, write, ...(group && !group.rest ? { tables: group.tables } : {}), ...(group?.rest ? { rest: true } : {}) };
    return part;
  });
  return settleAll(uploads, (error) => local.abort(error));
}

/** The same bytes, each chunk's length told as it passes (an error of `source` ends the copy). */
function counted(source: Readable, told: (bytes: number) => void): Readable {
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      told(chunk.length);
      callback(null, chunk);
    },
  });
  source.on('error', (error) => counter.destroy(error));
  return source.pipe(counter);
}

/** Every key a streams backup of `dataParts` data parts may have written (for the deletion of a failed one). */
export function possiblePartKeys(keys: BackupKeys, dataParts: number, compression: Compression): string[] {
  const data = Array.from({ length: dataParts }, (_, index) => dumpPartKey(keys.prefix, 'data', index, compression));
  return [dumpPartKey(keys.prefix, 'pre-data', 0, compression), ...data, dumpPartKey(keys.prefix, 'post-data', 0, compression), dumpPartKey(keys.prefix, 'schema', 0, compression)];
}
