/**
 * `--mode replace` inside the caller's transaction, once the backup's rows wait in staging
 * tables: the tables' rows become exactly the backup's, while foreign keys keep holding.
 *
 * A plain DELETE of every row followed by the copy fails as soon as another table references
 * a row (the check runs at the end of the DELETE, before the rows come back), and an ON DELETE
 * CASCADE key would silently delete the referencing rows. So rows are matched on the primary
 * key: rows the backup does not hold are deleted (only once no row of another table references
 * them, or the replace is refused), rows it holds are updated in place, missing ones inserted.
 * Referencing rows keep pointing at the same keys, and no cascade ever fires.
 */
import type pg from 'pg';
import { keysAmong, incomingKeysOf, primaryKeyOf, type ColumnInfo } from './table-catalog';
import type { TableRef } from '../../ports/postgres';
import { displayTable } from '../../domain/restore-table-plan';
import { quoteIdent, quoteTable } from '../../domain/table-pattern';
import { StrongboxError } from '../../errors';

/** One table to replace, its backup rows staged. */
export interface ReplaceInput {
  table: TableRef;
  oid: number;
  /** The staging table (qualified, quoted) holding the backup's rows in `columns`. */
  staging: string;
  /** The columns written. */
  columns: ColumnInfo[];
  /** Every column of the table (to know which are identity columns). */
  targetColumns: ColumnInfo[];
  rowsBefore: number;
  rowsRestored: number;
}

const REFUSED_HINT = 'nothing was changed: the transaction was rolled back. Restore the referencing tables too (one --table pattern), or restore side-by-side and merge by hand';

/**
 * Replaces the rows of every input table. Deletes run children first, updates and inserts
 * parents first, so that keys among the restored tables hold at every statement.
 *
 * @throws StrongboxError RESTORE_TABLE_REFUSED when rows of a table outside the restore
 *   reference rows the backup does not hold (with the count and one example), or when a
 *   referenced table has no primary key to match rows on; the driver's error otherwise.
 */
export async function replaceRows(client: pg.Client, inputs: ReplaceInput[]): Promise<void> {
  const restored = new Set(inputs.map((i) => i.oid));
  const keys = new Map<number, string[]>();
  for (const input of inputs) {
    const written = new Set(input.columns.map((c) => c.name));
    const primary = await primaryKeyOf(client, input.oid);
    const key = primary.every((k) => written.has(k)) ? primary : [];
    keys.set(input.oid, key);
    await refuseOrphans(client, input, restored, key.length > 0);
  }
  const ordered = parentsFirst(inputs, await keysAmong(client, [...restored]));
  for (const input of [...ordered].reverse()) {
    const key = keys.get(input.oid) ?? [];
    const where = key.length ? ` WHERE NOT EXISTS (SELECT 1 FROM ${input.staging} AS s WHERE ${matchOn(key)})` : '';
    await client.query(`DELETE FROM ONLY ${quoteTable(input.table)} AS t${where}`);
  }
  for (const input of ordered) {
    const key = keys.get(input.oid) ?? [];
    const identityAlways = new Set(input.targetColumns.filter((c) => c.identityAlways).map((c) => c.name));
    const names = input.columns.map((c) => c.name);
    if (key.length) {
      const updated = names.filter((n) => !key.includes(n) && !identityAlways.has(n));
      if (updated.length) {
        await client.query(
          `UPDATE ONLY ${quoteTable(input.table)} AS t SET (${updated.map(quoteIdent).join(', ')}) = ROW(${updated.map((n) => `s.${quoteIdent(n)}`).join(', ')})
             FROM ${input.staging} AS s WHERE ${matchOn(key)}`,
        );
      }
    }
    const overriding = names.some((n) => identityAlways.has(n)) ? ' OVERRIDING SYSTEM VALUE' : '';
    const missing = key.length ? ` WHERE NOT EXISTS (SELECT 1 FROM ONLY ${quoteTable(input.table)} AS t WHERE ${matchOn(key)})` : '';
    await client.query(
      `INSERT INTO ${quoteTable(input.table)} (${names.map(quoteIdent).join(', ')})${overriding}
         SELECT ${names.map((n) => `s.${quoteIdent(n)}`).join(', ')} FROM ${input.staging} AS s${missing}`,
    );
  }
}

/**
 * Refuses when rows of a table outside the restore reference rows of `input` that the backup
 * does not hold. Tables inside the restore are left to PostgreSQL's own checks (their rows are
 * replaced too).
 */
async function refuseOrphans(client: pg.Client, input: ReplaceInput, restored: Set<number>, hasKey: boolean): Promise<void> {
  const staged = new Set(input.columns.map((c) => c.name));
  for (const key of await incomingKeysOf(client, input.oid)) {
    if (restored.has(key.from.oid)) continue;
    if (!hasKey) {
      throw new StrongboxError('RESTORE_TABLE_REFUSED', `${displayTable(input.table)} has no primary key to match its rows on, and ${displayTable(key.from)} references it (${key.name})`, REFUSED_HINT);
    }
    if (!key.toColumns.every((c) => staged.has(c))) {
      throw new StrongboxError('RESTORE_TABLE_REFUSED', `the backup of ${displayTable(input.table)} lacks the columns ${key.toColumns.join(', ')} that ${displayTable(key.from)} references (${key.name})`, REFUSED_HINT);
    }
    const notNull = key.fromColumns.map((c) => `c.${quoteIdent(c)} IS NOT NULL`).join(' AND ');
    const joined = key.fromColumns.map((c, i) => `s.${quoteIdent(key.toColumns[i] as string)} = c.${quoteIdent(c)}`).join(' AND ');
    const example = key.fromColumns.length === 1 ? `c.${quoteIdent(key.fromColumns[0] as string)}::text` : `ROW(${key.fromColumns.map((c) => `c.${quoteIdent(c)}`).join(', ')})::text`;
    const result = await client.query<{ orphans: string; example: string | null }>(
      `SELECT count(*)::text AS orphans, min(${example}) AS example FROM ${quoteTable(key.from)} AS c
        WHERE ${notNull} AND NOT EXISTS (SELECT 1 FROM ${input.staging} AS s WHERE ${joined})`,
    );
    const orphans = Number(result.rows[0]?.orphans ?? 0);
    if (orphans > 0) {
      throw new StrongboxError(
        'RESTORE_TABLE_REFUSED',
        `${orphans} rows of ${displayTable(key.from)} reference rows of ${displayTable(input.table)} that the backup does not hold ` +
          `(foreign key ${key.name}, ${key.fromColumns.join(', ')} = ${result.rows[0]?.example ?? '?'}${key.onDelete === 'c' ? ', ON DELETE CASCADE would delete them' : ''})`,
        REFUSED_HINT,
      );
    }
  }
}

/** `(t.k1, t.k2) = (s.k1, s.k2)` written out, for a key of one or more columns. */
function matchOn(key: string[]): string {
  return key.map((k) => `t.${quoteIdent(k)} = s.${quoteIdent(k)}`).join(' AND ');
}

/** Parents before the tables that reference them; a cycle keeps the given order for its tables. */
function parentsFirst(inputs: ReplaceInput[], edges: Array<{ child: number; parent: number }>): ReplaceInput[] {
  const ordered: ReplaceInput[] = [];
  const left = [...inputs];
  while (left.length) {
    const ready = left.findIndex((i) => !edges.some((e) => e.child === i.oid && left.some((other) => other.oid === e.parent)));
    const [next] = left.splice(ready === -1 ? 0 : ready, 1);
    if (next) ordered.push(next);
  }
  return ordered;
}
