/**
 * Like `Promise.all`, but returns or throws only once every task has settled.
 *
 * A backup runs its writer and its producer side by side (the upload of pg_dump's stdout and
 * pg_dump itself). When one fails, `Promise.all` would let the caller clean up while the
 * other is still writing: a temporary file removed after the caller checked, a lock released
 * under a live upload. Here the first failure is reported to `onFirstFailure` at once (so
 * the caller can abort the others) and thrown only after all of them have finished.
 */
export async function settleAll<T extends readonly unknown[]>(
  tasks: { readonly [K in keyof T]: Promise<T[K]> },
  onFirstFailure?: (error: unknown) => void,
): Promise<T> {
  let failed = false;
  let firstError: unknown;
  const watched = tasks.map((task) =>
    task.catch((error: unknown) => {
      if (!failed) {
        failed = true;
        firstError = error;
        onFirstFailure?.(error);
      }
      throw error;
    }),
  );
  const results = await Promise.allSettled(watched);
  if (failed) throw firstError;
  return results.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
