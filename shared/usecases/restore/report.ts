/** What a restore tells as it goes and when it ends (the CLI's progress line, its `--json` shape). */
import type { AfterReport } from './extras';

/**
 * The phases of a restore, in order; `decompress` only for zstd, `globals` only with globals,
 * `drop-target` only with dropFirst, `swap` only without, `after` only with a post-restore command.
 */
export type RestorePhase = 'plan' | 'cleanup' | 'download' | 'decompress' | 'check' | 'globals' | 'drop-target' | 'restore' | 'verify' | 'swap' | 'after';

/** Progress for a terminal: the phase, and during the download the bytes read so far. */
export interface RestoreProgress {
  phase: RestorePhase;
  bytes?: number;
  totalBytes?: number;
}

/** What a finished restore reports (the `--json` shape). */
export interface RestoreReport {
  backupId: string;
  database: string;
  /** The target, without password. */
  target: string;
  /** Where the replaced database is kept, or null (no previous database, or --drop-first). */
  keptAs: string | null;
  tables: number;
  rows: number;
  /** Wall time of the whole restore: the measured RTO. */
  seconds: number;
  steps: Array<{ name: RestorePhase; seconds: number }>;
  /** Scratch databases of killed runs dropped first. */
  droppedLeftovers: string[];
  /** With --globals: roles and tablespaces that already existed (kept, their attributes set from the backup). */
  globals?: { applied: true; existing: string[] };
  /** With --after: how the post-restore command ended; `ok: false` means the restore is done but the command failed. */
  after?: AfterReport;
  warnings: string[];
}
