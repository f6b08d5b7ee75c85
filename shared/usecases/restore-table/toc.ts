/**
 * Reading an archive's table of contents (`pg_restore --list --verbose`) and choosing the
 * entries that rebuild some tables in a scratch database: each table's definition, what that
 * definition depends on (schemas, types, sequences of its defaults, a partitioned parent…),
 * and its rows. Indexes, constraints added after the data, grants, comments and every other
 * table are left out. Pure.
 */
import type { TableRef } from '../../ports/postgres';

/** One line of the table of contents. */
export interface TocEntry {
  /** The dump id, what `pg_restore -L` reads back. */
  id: number;
  /** The object's catalog oid (for TABLE DATA, the table's oid). */
  oid: string;
  /** `DESC SCHEMA NAME OWNER` as pg_restore prints it (names unquoted, so possibly with spaces). */
  text: string;
  /** The line as printed. */
  line: string;
  /** Dump ids this entry depends on (from `--verbose`). */
  dependsOn: number[];
}

const ENTRY = /^(\d+); \d+ (\d+) (.*)$/;
const DEPENDS = /^;\s+depends on:\s*([\d ]*)$/;

/** Parses the output of `pg_restore --list --verbose`; comment lines other than dependencies are skipped. */
export function parseToc(text: string): TocEntry[] {
  const entries: TocEntry[] = [];
  for (const line of text.split('\n')) {
    const entry = ENTRY.exec(line);
    if (entry) {
      entries.push({ id: Number(entry[1]), oid: entry[2] as string, text: entry[3] as string, line, dependsOn: [] });
      continue;
    }
    const depends = DEPENDS.exec(line);
    const last = entries.at(-1);
    if (depends && last) last.dependsOn.push(...(depends[1] as string).split(' ').filter(Boolean).map(Number));
  }
  return entries;
}

/** The entries that rebuild `tables`, and the tables whose definition or rows the archive lacks. */
export interface TableSelection {
  /** The `pg_restore -L` list: the chosen lines in the archive's own (dependency) order. */
  list: string;
  entries: TocEntry[];
  /** Each table found, with the ids of its TABLE and TABLE DATA entries. */
  found: Array<TableRef & { definition: number; data: number }>;
  missing: Array<TableRef & { lacks: 'definition' | 'rows' }>;
}

/**
 * Chooses the TABLE entry of each table, everything it depends on (transitively), and its TABLE
 * DATA entry.
 */
export function selectTables(toc: TocEntry[], tables: TableRef[]): TableSelection {
  const byId = new Map(toc.map((e) => [e.id, e]));
  const chosen = new Set<number>();
  const missing: TableSelection['missing'] = [];
  const found: TableSelection['found'] = [];
  const add = (entry: TocEntry): void => {
    if (chosen.has(entry.id)) return;
    chosen.add(entry.id);
    for (const id of entry.dependsOn) {
      const dependency = byId.get(id);
      if (dependency) add(dependency);
    }
  };
  for (const table of tables) {
    const definition = toc.find((e) => names(e, 'TABLE', table));
    if (!definition) {
      missing.push({ ...table, lacks: 'definition' });
      continue;
    }
    const rows = toc.find((e) => e.oid === definition.oid && e.text.startsWith('TABLE DATA '));
    if (!rows) {
      missing.push({ ...table, lacks: 'rows' });
      continue;
    }
    add(definition);
    chosen.add(rows.id);
    found.push({ schema: table.schema, name: table.name, definition: definition.id, data: rows.id });
  }
  const entries = toc.filter((e) => chosen.has(e.id));
  return { list: `${entries.map((e) => e.line).join('\n')}\n`, entries, found, missing };
}

/**
 * True when `entry` is `desc` of `table`: `DESC SCHEMA NAME OWNER` where the owner is one word
 * (or empty). Names print unquoted, so this reads the line knowing which table it looks for.
 */
function names(entry: TocEntry, desc: string, table: TableRef): boolean {
  const head = `${desc} ${table.schema} ${table.name} `;
  return entry.text.startsWith(head) && !entry.text.slice(head.length).includes(' ');
}
