/**
 * A TLS-terminating relay on 127.0.0.1 in front of s3rver (plain HTTP): pgBackRest's S3
 * repository speaks HTTPS only. The certificate is self-signed, made by `openssl` for this
 * run (pgBackRest is told `repo1-storage-verify-tls=n`). Bytes pass through untouched, so
 * SigV4 signatures made for this host and port still hold at s3rver.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import { promisify } from 'node:util';

export interface TlsProxy {
  host: '127.0.0.1';
  port: number;
  stop(): Promise<void>;
}

/** Starts the relay to `target` (`http://127.0.0.1:<port>`). Throws when openssl is missing. */
export async function startTlsProxy(target: string): Promise<TlsProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'sbx-tls-'));
  try {
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1']);
    const [key, cert] = await Promise.all([readFile(join(dir, 'key.pem')), readFile(join(dir, 'cert.pem'))]);
    const to = new URL(target);
    const sockets = new Set<Socket>();
    const server = createServer({ key, cert }, (secure) => {
      const plain = connect(Number(to.port), to.hostname);
      sockets.add(plain).add(secure);
      const close = () => {
        secure.destroy();
        plain.destroy();
      };
      secure.once('close', () => sockets.delete(secure));
      plain.once('close', () => sockets.delete(plain));
      secure.on('error', close).pipe(plain).on('error', close).pipe(secure);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return {
      host: '127.0.0.1',
      port: (server.address() as AddressInfo).port,
      async stop() {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
