import type { PgConnection } from './postgres';

/** The server settings archiving depends on, as the doctor judges them. */
export interface ArchiveSettings {
  walLevel: string;
  archiveMode: string;
  /** The configured command (also while archive_mode is off); empty when unset. */
  archiveCommand: string;
  /** Empty when unset (PostgreSQL 15+; always empty before). */
  archiveLibrary: string;
  /** Seconds; 0 = disabled. */
  archiveTimeoutSeconds: number;
  maxWalSenders: number;
  /** e.g. 150004. */
  serverVersionNum: number;
  /** Bytes. */
  walSegmentSize: number;
}

/** Who Strongbox is on the server, and whether it may run the WAL functions it needs. */
export interface RoleRights {
  name: string;
  superuser: boolean;
  replication: boolean;
  canSwitchWal: boolean;
  canCreateRestorePoint: boolean;
}

/** pg_stat_archiver, times as ISO-8601 UTC strings. */
export interface ArchiverStats {
  archivedCount: number;
  lastArchivedWal?: string;
  lastArchivedAt?: string;
  failedCount: number;
  lastFailedWal?: string;
  lastFailedAt?: string;
  statsResetAt?: string;
}

/** A WAL position and the segment holding it. */
export interface WalPosition {
  lsn: string;
  segment: string;
  timeline: number;
}

/** The calls above as one port, so that use cases take them as a dependency. */
export interface WalServer {
  readArchiveSettings(conn: PgConnection): Promise<ArchiveSettings>;
  readRole(conn: PgConnection): Promise<RoleRights>;
  readArchiver(conn: PgConnection): Promise<ArchiverStats>;
  switchWal(conn: PgConnection): Promise<WalPosition>;
  createRestorePoint(conn: PgConnection, name: string): Promise<{ lsn: string; timeline: number }>;
  currentWal(conn: PgConnection): Promise<WalPosition>;
  systemIdentifier(conn: PgConnection): Promise<string>;
}
