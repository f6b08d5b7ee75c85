import type { WalPresigner } from '../../ports/presign';
import type { Storage } from '../../ports/storage';
import type { AlertPublisher, Clock, Log } from '../../ports';
import type { WalCodec } from '../../ports/wal-codec';

/**
 * What the archive use cases need. With a `presigner`, pushes and fetches hand out
 * presigned URLs (presign mode); without one, the bytes go through the endpoint (bytes mode).
 */
export interface WalArchiveDeps {
  storage: Storage;
  alerts: AlertPublisher;
  log: Log;
  clock: Clock;
  /** Reads stored objects as their compression says (the trust boundary's decoding). */
  codec: WalCodec;
  presigner?: WalPresigner;
  /**
   * Makes sure the record at this key is in the WAL catalog (idempotent: indexing an
   * indexed record changes nothing). Called before answering "already archived, same
   * bytes", so that a record whose indexing was lost (a crash between the record's write
   * and its object-created event's handling) is indexed by PostgreSQL's retry instead of
   * never. A failure fails the push (5xx), which PostgreSQL retries. Local mode wires it to
   * the catalog; in AWS the record's S3 event, delivered durably, indexes it.
   */
  ensureIndexed?: (recordKey: string) => Promise<void>;
  /**
   * How long an object with other bytes than a push's may sit at the file's key without a
   * record before that push counts it as an abandoned upload and removes it; default
   * 20 minutes (a presigned URL lives 15). Younger: the push answers WAL_PUSH_BUSY.
   */
  unrecordedGraceMs?: number;
}
