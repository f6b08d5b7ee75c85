/**
 * The physical drill's comparison, pure: what the logical backup's manifest recorded per table
 * against what the recovered cluster holds at the snapshot's instant. Only what is exact is
 * compared; every table left out is named with the reason, so that a difference is never a
 * timing artefact and a pass never claims more than was checked.
 */
import type { Manifest } from '../../domain/manifest';
import { quoteTable } from '../../domain/table-pattern';

/** A table's digest in the recovered cluster (table-digest.ts). */
export interface Digest {
  rows: number;
  checksum: string;
}

/** What the drill found at the instant: digests by quoted name, and tables present but not in the manifest. */
export interface RecoveredState {
  digests: ReadonlyMap<string, Digest>;
  /** Tables the recovered cluster has that the manifest does not list. */
  extra: readonly string[];
  /**
   * Tables whose contents may differ between the two bounds of the instant (lsn-bounds), by
   * quoted name; `all` when the bounds cannot be trusted at all. Absent: the instant is exact.
   */
  unsettled?: ReadonlySet<string> | 'all';
  /** Why `unsettled` is `all`. */
  unsettledReason?: string;
}

export interface Comparison {
  /** Tables compared exactly (rows and checksum). */
  compared: number;
  rows: number;
  /** Each difference, in words. */
  differences: string[];
  /** Tables not compared, each with why. */
  notCompared: Array<{ table: string; why: string }>;
  /** Of the compared tables, those compared by rows only: their manifest has no checksum (written before checksums were recorded). */
  rowsOnly: string[];
}

/** Compares the manifest's tables with the recovered state (see RecoveredState). */
export function compareAtInstant(tables: Manifest['tables'], state: RecoveredState): Comparison {
  const result: Comparison = { compared: 0, rows: 0, differences: [], notCompared: [], rowsOnly: [] };
  for (const table of tables) {
    const name = quoteTable(table);
    if (table.estimate) {
      result.notCompared.push({ table: name, why: `the manifest has an estimate (${table.rows} rows): the table is over the exact-count size` });
      continue;
    }
    if (state.unsettled === 'all') {
      result.notCompared.push({ table: name, why: state.unsettledReason ?? 'the snapshot\'s instant is not known exactly' });
      continue;
    }
    if (state.unsettled?.has(name)) {
      result.notCompared.push({ table: name, why: 'changed between the LSNs read just before and just after the snapshot (wal_level replica: the instant is known only between them)' });
      continue;
    }
    const found = state.digests.get(name);
    if (!found) {
      result.differences.push(`${name} is missing from the recovered cluster`);
      continue;
    }
    if (found.rows !== table.rows) result.differences.push(`${name} has ${found.rows} rows in the recovered cluster, the backup ${table.rows}`);
    else if (table.checksum === undefined) result.rowsOnly.push(name);
    else if (found.checksum !== table.checksum) result.differences.push(`${name} has the same ${found.rows} rows but other contents (checksum ${found.checksum}, the backup ${table.checksum})`);
    if (found.rows === table.rows && (table.checksum === undefined || found.checksum === table.checksum)) {
      result.compared += 1;
      result.rows += found.rows;
    }
  }
  if (state.unsettled !== 'all') for (const name of state.extra) result.differences.push(`${name} is in the recovered cluster but not in the backup`);
  return result;
}
