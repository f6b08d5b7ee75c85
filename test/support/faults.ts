import { Transform, type Readable } from 'node:stream';
import type { Storage } from '../../shared/adapters/storage/storage';
import { StorageError } from '../../shared/errors';

/**
 * `storage` whose streamed writes fail with a StorageError (`message`) once more than
 * `afterBytes` have passed, as a disk or a connection giving out mid-upload would.
 * Every other method is the real one.
 */
export function failingMidUpload(storage: Storage, afterBytes: number, message: string): Storage {
  // Bound methods: drivers keep private (#) fields, which a prototype proxy cannot reach.
  const real: Storage = {
    location: storage.location,
    bucket: storage.bucket,
    putStream: storage.putStream.bind(storage),
    putBytes: storage.putBytes.bind(storage),
    get: storage.get.bind(storage),
    getBytes: storage.getBytes.bind(storage),
    head: storage.head.bind(storage),
    list: storage.list.bind(storage),
    delete: storage.delete.bind(storage),
    onObjectCreated: storage.onObjectCreated.bind(storage),
  };
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
