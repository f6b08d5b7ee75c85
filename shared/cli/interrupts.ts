import { InterruptedError } from '../errors';

/**
 * Runs `fn` with a signal that aborts on Ctrl-C (SIGINT) or SIGTERM, with an
 * InterruptedError as the reason, so that the operation can clean up and report instead of
 * dying mid-way. The handlers are removed when `fn` settles.
 */
export async function withInterrupts<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const onSigint = () => abort.abort(new InterruptedError('SIGINT'));
  const onSigterm = () => abort.abort(new InterruptedError('SIGTERM'));
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigterm);
  try {
    return await fn(abort.signal);
  } finally {
    process.removeListener('SIGINT', onSigint);
    process.removeListener('SIGTERM', onSigterm);
  }
}
