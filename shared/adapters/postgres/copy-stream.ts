/**
 * PostgreSQL's COPY sub-protocol on node-postgres clients, through the driver's `Submittable`
 * hook (how pg-cursor and pg-query-stream plug in): `COPY … TO STDOUT` as a Readable, and
 * `COPY … FROM STDIN` fed from a Readable. Bytes flow with backpressure: a slow target pauses
 * the source's socket. pg-copy-streams does the same, but is not a dependency here.
 */
import { Readable } from 'node:stream';
import type pg from 'pg';

/** The parts of node-postgres's Connection this module uses (the published types omit the COPY ones). */
interface WireConnection {
  stream: NodeJS.ReadableStream & NodeJS.WritableStream & { writableNeedDrain?: boolean };
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  sendCopyFail(message: string): void;
}

/** How many bytes COPY FROM sends per message. */
const BATCH_BYTES = 64 * 1024;

/** `COPY n` → n. */
function copiedRows(message: { text?: string }): number {
  const match = /^COPY (\d+)$/.exec(message.text ?? '');
  return match ? Number(match[1]) : 0;
}

/** The result messages a COPY never receives; a Submittable must still accept them. */
const ignored = {
  handleRowDescription() {},
  handleDataRow() {},
  handleEmptyQuery() {},
  handlePortalSuspended() {},
};

/** `COPY (…) TO STDOUT` as a byte stream; `rows` is known once the stream ended. */
export class CopyOutStream extends Readable implements pg.Submittable {
  rows = 0;
  private connection: WireConnection | undefined;
  private paused = false;
  readonly handleRowDescription = ignored.handleRowDescription;
  readonly handleDataRow = ignored.handleDataRow;
  readonly handleEmptyQuery = ignored.handleEmptyQuery;
  readonly handlePortalSuspended = ignored.handlePortalSuspended;

  constructor(private readonly text: string) {
    super({ highWaterMark: 1024 * 1024 });
  }

  submit(connection: pg.Connection): void {
    this.connection = connection as unknown as WireConnection;
    this.connection.query(this.text);
  }

  handleCopyData(message: { chunk: Buffer }): void {
    // Once the consumer gave up, the rest of the COPY is read and dropped.
    if (this.destroyed) return;
    // The driver's parser may write later messages into the same buffer: keep a copy.
    if (!this.push(Buffer.from(message.chunk)) && !this.paused) {
      this.paused = true;
      this.connection?.stream.pause();
    }
  }

  handleCommandComplete(message: { text?: string }): void {
    this.rows = copiedRows(message);
  }

  handleReadyForQuery(): void {
    this.push(null);
  }

  handleError(error: Error): void {
    this.destroy(error);
  }

  override _read(): void {
    if (!this.paused) return;
    this.paused = false;
    this.connection?.stream.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // A paused socket would never see the end of the session.
    if (this.paused) this.connection?.stream.resume();
    callback(error);
  }
}

/** `COPY … FROM STDIN` fed from `source`; `done` resolves with the rows copied. */
export class CopyInQuery implements pg.Submittable {
  readonly done: Promise<number>;
  private resolve: (rows: number) => void = () => undefined;
  private reject: (error: Error) => void = () => undefined;
  private rows = 0;
  private failed = false;
  /** The source's error, which the server's reply to CopyFail would otherwise replace. */
  private sourceError: Error | undefined;
  readonly handleRowDescription = ignored.handleRowDescription;
  readonly handleDataRow = ignored.handleDataRow;
  readonly handleEmptyQuery = ignored.handleEmptyQuery;
  readonly handlePortalSuspended = ignored.handlePortalSuspended;

  constructor(
    private readonly text: string,
    private readonly source: Readable,
  ) {
    this.done = new Promise<number>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // The caller may await `done` late; a rejection must not be reported as unhandled meanwhile.
    this.done.catch(() => undefined);
  }

  submit(connection: pg.Connection): void {
    (connection as unknown as WireConnection).query(this.text);
  }

  handleCopyInResponse(connection: pg.Connection): void {
    void this.pump(connection as unknown as WireConnection);
  }

  handleCopyData(): void {}

  handleCommandComplete(message: { text?: string }): void {
    this.rows = copiedRows(message);
  }

  handleReadyForQuery(): void {
    if (!this.failed) this.resolve(this.rows);
  }

  handleError(error: Error): void {
    this.failed = true;
    this.source.destroy();
    this.reject(this.sourceError ?? error);
  }

  private async pump(connection: WireConnection): Promise<void> {
    // PostgreSQL sends a row per CopyData message: batch them, or every row costs a socket write.
    let batch: Buffer[] = [];
    let size = 0;
    const flush = async (): Promise<void> => {
      if (size === 0) return;
      connection.sendCopyFromChunk(batch.length === 1 ? (batch[0] as Buffer) : Buffer.concat(batch, size));
      batch = [];
      size = 0;
      if (connection.stream.writableNeedDrain) await new Promise((resolve) => connection.stream.once('drain', resolve));
    };
    try {
      for await (const chunk of this.source) {
        if (this.failed) return;
        const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
        batch.push(bytes);
        size += bytes.length;
        if (size >= BATCH_BYTES) await flush();
      }
      if (this.failed) return;
      await flush();
      connection.endCopyFrom();
    } catch (error) {
      if (this.failed) return;
      this.sourceError = error instanceof Error ? error : new Error(String(error));
      // The server answers CopyFail with an error, which ends the COPY (and its transaction).
      connection.sendCopyFail(`source failed: ${this.sourceError.message}`.slice(0, 500));
    }
  }
}
