/** Milliseconds as seconds rounded to the millisecond, as reports show durations. */
export function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

/**
 * Times the phases of a long operation (restore, drill) for its report and announces each
 * to a progress callback as it starts. `steps` lists every phase run, failed ones too.
 */
export function phaseTimer<P extends string>(onProgress?: (progress: { phase: P }) => void) {
  const steps: Array<{ name: P; seconds: number }> = [];
  const timed = async <T>(phase: P, fn: () => Promise<T>): Promise<T> => {
    onProgress?.({ phase });
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      steps.push({ name: phase, seconds: seconds(performance.now() - t0) });
    }
  };
  return { steps, timed };
}
