import type { WalPresigner } from '../../adapters/storage/presign';
import type { Storage } from '../../adapters/storage/storage';
import type { AlertPublisher, Clock, Log } from '../../ports';

/**
 * What the archive use cases need. With a `presigner`, pushes and fetches hand out
 * presigned URLs (presign mode); without one, the bytes go through the endpoint (bytes mode).
 */
export interface WalArchiveDeps {
  storage: Storage;
  alerts: AlertPublisher;
  log: Log;
  clock: Clock;
  presigner?: WalPresigner;
}
