import type { Readable } from 'node:stream';
import type { PgConnection, ToolStream } from './postgres';
import type { BaseCompression } from '../domain/backup';
import type { BaseTarFacts } from '../domain/base-manifest';

/** What the server said before a base backup (one SQL session, no replication connection). */
export interface BaseBackupSource {
  serverVersion: string;
  serverVersionNum: number;
  /** pg_control_system().system_identifier, in decimal. */
  systemId: string;
  /** wal_segment_size in bytes. */
  segmentSize: number;
  /** The cluster's databases on disk: a rough upper bound of the backup's size, for progress. */
  clusterSizeBytes: number;
  /** True on a standby (the backup may then end on another timeline). */
  inRecovery: boolean;
}

/** Reads the tar inside the stored bytes while they pass. */
export interface TarObserver {
  /** `stored` passed through unchanged; it ends only once the tar inside was read to its end. */
  observe(stored: Readable): Readable;
  /** What the tar held; valid once the observed stream ended (throws otherwise). */
  facts(): BaseTarFacts;
}

/**
 * What a base backup needs from PostgreSQL's side; the real implementation is
 * shared/adapters/postgres/basebackup.ts (pgBaseBackupTools), tests may wrap it to inject faults.
 */
export interface BaseBackupTools {
  /**
   * Checks that `conn` may take a base backup and reads the server's identity. Throws
   * REPLICATION_NOT_PERMITTED, BASE_BACKUP_TABLESPACES, or the DB_* connection errors.
   */
  inspect(conn: PgConnection): Promise<BaseBackupSource>;
  /** Streams `pg_basebackup -D - -Ft -X fetch` (through `zstd` unless `none`); errors arrive on the ToolStream. */
  spawnBaseBackup(conn: PgConnection, options: { compression: BaseCompression; label: string; signal?: AbortSignal }): ToolStream;
  /** An observer of the stored bytes of one backup compressed with `compression`. */
  observeTar(compression: BaseCompression): TarObserver;
  /** pg_basebackup's version, e.g. '15.18'. Throws DumpError. */
  toolVersion(): Promise<string>;
  /**
   * Makes the server keep every WAL segment from now until `release` (a temporary physical
   * replication slot reserving WAL, held by its own session): `-X fetch` then finds the WAL
   * the backup needs however busy the server is. Undefined, with `reason`, when the server
   * cannot (no free replication slot): the backup goes on as before.
   */
  reserveWal?(conn: PgConnection, name: string): Promise<{ release(): Promise<void> } | { reason: string }>;
}
