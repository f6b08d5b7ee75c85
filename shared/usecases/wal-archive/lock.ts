/**
 * One-at-a-time sections per key, inside this process. Storage has no conditional put, so
 * two pushes of the same WAL file in one endpoint process (PostgreSQL's archiver and the
 * asynchronous uploader both pushing it) take turns: the second then finds the record and
 * never writes over the object the first one verified. Across processes (several Lambda
 * instances) the protocol's re-checks are what remains; see push.ts.
 */
const tails = new Map<string, Promise<void>>();

/** Runs `section` once every earlier section of the same `key` has settled; rethrows what it throws. */
export async function withKeyLock<T>(key: string, section: () => Promise<T>): Promise<T> {
  const previous = tails.get(key) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = previous.then(() => mine);
  tails.set(key, tail);
  await previous;
  try {
    return await section();
  } finally {
    release();
    if (tails.get(key) === tail) tails.delete(key);
  }
}
