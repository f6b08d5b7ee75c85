/**
 * The use-case side of `restore-table --mode recreate`: which objects of the archive bring the
 * dropped tables back whole (recreate-toc.ts), and each one's SQL as pg_restore writes it, ready
 * for the target's one transaction.
 */
import type { RecreateObject, TableRestoreTools } from '../../ports/restore-table';
import { selectRecreate, type RecreatedTable } from './recreate-toc';
import type { TocEntry } from './toc';

/** An object of the plan, as `--dry-run` lists it. */
export interface PlannedObject {
  object: string;
  /** True: the restore fails without it. False: tried, skipped with the reason when it cannot be. */
  required: boolean;
}

/** The objects that recreate `tables`, in order, without their SQL (what a dry run shows). */
export function plannedObjects(toc: TocEntry[], tables: RecreatedTable[]): PlannedObject[] {
  return selectRecreate(toc, tables).map((e) => ({ object: e.label, required: e.required }));
}

/**
 * The objects that recreate `tables`, each with its SQL read from the archive (one pg_restore per
 * object, so that no script is ever split by guessing).
 *
 * @throws DumpError when pg_restore fails.
 */
export async function recreateObjects(tools: TableRestoreTools, file: string, toc: TocEntry[], tables: RecreatedTable[], signal?: AbortSignal): Promise<RecreateObject[]> {
  const objects: RecreateObject[] = [];
  for (const e of selectRecreate(toc, tables)) {
    const base = { id: e.entry.id, label: e.label, required: e.required, after: e.after };
    if (e.rows) {
      objects.push({ ...base, rows: e.rows });
      continue;
    }
    objects.push({ ...base, ...splitScript(await tools.scriptOf(file, e.entry.line, signal)) });
  }
  return objects;
}

const RESTRICT = /^\\(un)?restrict [A-Za-z0-9]+$/;
const HEADER = /^-- (?:Data for )?Name: .*; Type: .*; Schema: .*; Owner: .*$/;
const COMPLETE = /\n--\n-- PostgreSQL database dump complete\n--\s*$/;

/**
 * pg_restore's script of one entry as SQL a session can run: the psql-only `\restrict` lines
 * dropped (pg_restore ≥ 15.14 writes them) and the client encoding left to the driver; and the
 * entry's statements alone (after its header comment) for the report.
 */
export function splitScript(script: string): { sql: string; statements: string } {
  const lines = script.split('\n').filter((line) => !RESTRICT.test(line) && !/^SET client_encoding = /.test(line));
  const sql = lines.join('\n');
  const header = lines.findIndex((line) => HEADER.test(line));
  const body = header < 0 ? sql : lines.slice(header + 2).join('\n');
  return { sql, statements: body.replace(COMPLETE, '').trim() };
}
