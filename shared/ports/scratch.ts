import type { Readable } from 'node:stream';
import type { PgConnection } from './postgres';

/** Where a scratch is reached. */
export interface ScratchSocket {
  socketDir: string;
  port: number;
}

/** The server-side steps (shared/adapters/postgres/scratch-server.ts and recovery.ts bind them). */
export interface ScratchServer {
  prepareEmptyDataDir(dataDir: string): Promise<void>;
  unpackBaseBackup(options: { body: Readable; compression: 'zstd' | 'none'; dataDir: string; key: string; sha256: string; bytes?: number; backupId?: string }): Promise<void>;
  writeRecoveryConfig(dataDir: string, settings: Record<string, string>): Promise<void>;
  prepareSocketDir(): Promise<string>;
  restrictToSocket(dataDir: string): Promise<void>;
  scratchSettings(socket: ScratchSocket, fast: boolean): Record<string, string>;
  /** Asks as each of `users` in turn until one logs in (RECOVERY_FAILED when none exists); returns the one that did. */
  startPaused(options: { dataDir: string; socket: ScratchSocket; users: readonly string[]; binDir: string; promotedIsDone?: boolean; timeoutMs: number; signal?: AbortSignal; onReplay?: (lsn: string) => void }): Promise<{ seconds: number; logFile: string; user: string }>;
  resumeTo(options: { dataDir: string; socket: ScratchSocket; users: readonly string[]; binDir: string; timeoutMs: number; signal?: AbortSignal; settings: Record<string, string> }): Promise<{ seconds: number; logFile: string }>;
  promoteScratch(conn: PgConnection): Promise<void>;
  destroyScratch(dataDir: string, socketDir: string, folder: string, binDir?: string): Promise<void>;
  freePort(): Promise<number>;
  /**
   * The bin folder of the server of exactly PostgreSQL `major` (the base backup's).
   *
   * @throws StrongboxError PG_VERSION_MISMATCH when it is not installed or unknown (shared/domain/pg-majors.ts).
   */
  serverBinDir(major: number | undefined): Promise<string>;
}
