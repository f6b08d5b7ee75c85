/**
 * A table restore's plan as a bounded document: what `sls invoke -f restoreTable` returns and
 * what the restore-table state machine's input carries beside the job. A pattern may select
 * 100,000 partitions; the job holds the pattern and the resolved backup id (the task matches
 * the pattern again against the same, immutable manifest, so it finds the same tables), and
 * this summary names at most TABLES_NAMED of them and counts the rest. Pure.
 */
import type { TableRef } from '../ports/postgres';
import { TABLES_NAMED, type RestoreTablePlan } from './restore-table-plan';

/** One table named in the summary. */
export interface SummaryTable {
  schema: string;
  name: string;
  rows: number;
  into: TableRef;
}

/** The plan's summary: its size depends on TABLES_NAMED, not on how many tables the pattern selects. */
export type RestoreTableSummary = {
  backupId: string;
  database: string;
  target: string;
  pattern: string;
  mode: RestoreTablePlan['mode'];
  /** How many tables the pattern selects in the backup. */
  tableCount: number;
  /** Their rows in the backup's manifest, all together. */
  rows: number;
  /** The first TABLES_NAMED of them (schema, name order). */
  tables: SummaryTable[];
  /** How many more the pattern selects than `tables` names. */
  tablesNotNamed: number;
  warnings: string[];
  steps: string[];
};

/** The bounded summary of `plan` (its steps name at most TABLES_NAMED tables too). */
export function summarizeTablePlan(plan: RestoreTablePlan, limit = TABLES_NAMED): RestoreTableSummary {
  const named = plan.tables.slice(0, limit);
  return {
    backupId: plan.backup.id,
    database: plan.database,
    target: plan.target.redacted,
    pattern: plan.pattern,
    mode: plan.mode,
    tableCount: plan.tables.length,
    rows: plan.tables.reduce((sum, t) => sum + t.rows, 0),
    tables: named.map((t) => ({ schema: t.schema, name: t.name, rows: t.rows, into: t.into })),
    tablesNotNamed: plan.tables.length - named.length,
    warnings: plan.warnings,
    steps: plan.steps,
  };
}
