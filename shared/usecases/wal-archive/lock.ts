/**
 * One-at-a-time sections per key, within one endpoint instance (its deps). Not what keeps
 * archived history from being overwritten: storage does that (create-only writes of the
 * object, the record and the identity; see push.ts and occupied.ts), across processes and
 * hosts. This only saves work when two pushes of one file reach the same instance at once
 * (PostgreSQL's archiver and the asynchronous uploader): the second waits and then finds
 * the record, instead of having its write refused and reading the first one's 16 MB back.
 */
const scopes = new WeakMap<object, Map<string, Promise<void>>>();

/** Runs `section` once every earlier section of the same `key` in `scope` has settled; rethrows what it throws. */
export async function withKeyLock<T>(scope: object, key: string, section: () => Promise<T>): Promise<T> {
  let tails = scopes.get(scope);
  if (!tails) scopes.set(scope, (tails = new Map()));
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
