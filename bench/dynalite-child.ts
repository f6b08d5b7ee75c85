import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';

/**
 * dynalite in a process of its own (benchmarks): its CPU is not the benchmark's event
 * loop's, as a DynamoDB on other machines would not be. On disk at `path`, or in memory.
 * The caller kills `child` when done.
 */
export async function startDynaliteChild(path?: string): Promise<{ endpoint: string; child: ChildProcess }> {
  const cli = createRequire(import.meta.url).resolve('dynalite/cli.js');
  const child = spawn(process.execPath, [cli, '--port', '0', '--host', '127.0.0.1', ...(path ? ['--path', path] : []), '--createTableMs', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`dynalite exited with ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      const port = /:(\d+)\s*$/m.exec(chunk.toString())?.[1];
      if (port) resolve(`http://127.0.0.1:${port}`);
    });
  });
  return { endpoint, child };
}
