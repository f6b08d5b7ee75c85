import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';

/** A port free on 127.0.0.1 now (dynalite's CLI takes `--port 0` for its default, 4567, which another run may hold). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

/**
 * dynalite in a process of its own (benchmarks): its CPU is not the benchmark's event
 * loop's, as a DynamoDB on other machines would not be. On disk at `path`, or in memory.
 * The caller kills `child` when done.
 */
export async function startDynaliteChild(path?: string): Promise<{ endpoint: string; child: ChildProcess }> {
  const cli = createRequire(import.meta.url).resolve('dynalite/cli.js');
  const port = await freePort();
  const child = spawn(process.execPath, [cli, '--port', String(port), '--host', '127.0.0.1', ...(path ? ['--path', path] : []), '--createTableMs', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`dynalite exited with ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      const port = /:(\d+)\s*$/m.exec(chunk.toString())?.[1];
      if (port) resolve(`http://127.0.0.1:${port}`);
    });
  });
  return { endpoint, child };
}
