import type { Sha256State } from '../domain/sha256-state';
/** Where a resumable hash stopped: the next byte to read and the hash of everything before it. */
export interface HashCursor {
  offset: number;
  state: Sha256State;
}

/** Where a verification stopped, for another invocation to take up: JSON, under 1 KB. */
export interface VerifyCursor {
  manifestKey: string;
  /** Index, in the manifest's declared objects, of the object being hashed. */
  object: number;
  /** That object's resumable hash so far; absent: hash it again from its start, resumable. */
  hash?: HashCursor;
  /** Invocations that handed over so far. */
  hop: number;
}

/** Continues a verification that ran out of time in another invocation (functions/checksum.ts). */
export interface VerifyHandOver {
  continueVerification(cursor: VerifyCursor): Promise<void>;
}
