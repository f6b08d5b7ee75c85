import type { ObjectCreatedListener } from '../../ports/storage';

/** The argument every ObjectCreated listener receives. */
export type ObjectCreatedInfo = Parameters<ObjectCreatedListener>[0];

/**
 * The listeners of one storage, called in registration order after each completed write.
 * A listener's failure never turns a durable write into a failed one: the object is
 * stored whatever a listener does, so the failure is logged (one JSON line on stderr)
 * and the next listener still runs.
 */
export class ObjectCreatedListeners {
  readonly #listeners: ObjectCreatedListener[] = [];

  /** Registers a listener. */
  add(listener: ObjectCreatedListener): void {
    this.#listeners.push(listener);
  }

  /** Awaits every listener in turn; never rejects. */
  async notify(info: ObjectCreatedInfo): Promise<void> {
    for (const listener of this.#listeners) {
      try {
        await listener(info);
      } catch (error) {
        const line = {
          level: 'ERROR',
          message: 'onObjectCreated listener failed; the object is stored',
          key: info.key,
          bucket: info.bucket,
          error: error instanceof Error ? error.message : String(error),
        };
        process.stderr.write(`${JSON.stringify(line)}\n`);
      }
    }
  }
}
