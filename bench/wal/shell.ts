/** A timed `bash -o pipefail -c` run for the benchmarks' plain baselines. */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/**
 * Runs `command` in its own process group (killed whole on abort) and resolves with its
 * wall time and stdout.
 *
 * @throws Error with the tail of stderr when any stage of the pipeline fails, or the abort reason.
 */
export function runShell(command: string, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const started = performance.now();
    const child = spawn('bash', ['-o', 'pipefail', '-c', command], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4000)));
    const onAbort = () => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', reject);
    child.once('close', (code, sig) => {
      const ms = performance.now() - started;
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return reject(signal.reason);
      if (code !== 0) return reject(new Error(`\`${command}\` failed (${sig ?? `exit ${code}`}): ${stderr.trim()}`));
      resolve({ ms, stdout });
    });
  });
}
