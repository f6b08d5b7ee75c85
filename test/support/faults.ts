import { Transform, type Readable } from 'node:stream';
import type { Storage } from '../../shared/ports/storage';
import { StorageError } from '../../shared/errors';

/**
 * `storage` whose streamed writes fail with a StorageError (`message`) once more than
 * `afterBytes` have passed, as a disk or a connection giving out mid-upload would.
 * Every other method is the real one.
 */
export function failingMidUpload(storage: Storage, afterBytes: number, message: string): Storage {
  const real = boundStorage(storage);
  return Object.assign(real, {
    putStream(key: string, body: Readable, options?: Parameters<Storage['putStream']>[2]) {
      let seen = 0;
      const breaker = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          seen += chunk.length;
          if (seen > afterBytes) callback(new StorageError(message, 'check the storage'));
          else callback(null, chunk);
        },
      });
      body.on('error', (error) => breaker.destroy(error));
      return storage.putStream(key, body.pipe(breaker), options);
    },
  });
}

/**
 * A plain object with every method of `storage` bound to it (and its location and bucket):
 * tests replace some methods and keep the rest. Drivers keep private (#) fields, which a
 * prototype proxy cannot reach; bound methods can.
 */
export function boundStorage(storage: Storage): Storage {
  const bound: Record<string, unknown> = { location: storage.location, bucket: storage.bucket };
  const methods = storage as unknown as Record<string, unknown>;
  for (let proto: object | null = Object.getPrototypeOf(storage) as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const method = methods[name];
      if (name !== 'constructor' && !(name in bound) && typeof method === 'function') bound[name] = (method as (...args: unknown[]) => unknown).bind(storage);
    }
  }
  return bound as unknown as Storage;
}
