import { StrongboxError } from '../errors';

/**
 * A streaming tar reader that keeps only what it is asked for: the text of a few named
 * entries (a base backup's `backup_label`, `tablespace_map`, the tail of its
 * `backup_manifest`, the head of `global/pg_control`) and the names of all entries, while
 * the rest of the archive passes through untouched. Pure: bytes in, facts out.
 *
 * Reads POSIX ustar headers (512-byte blocks, sizes in octal, or GNU base-256 for large
 * files, `prefix` + `name`), GNU long names (`L`) and pax `path` records (`x`), so archives
 * made by pg_basebackup and by GNU tar in any of its formats read the same.
 */

const BLOCK = 512;
/** Longest name or pax header we hold while reading it. */
const META_LIMIT = 64 * 1024;

/** What to keep of one entry. */
export interface CaptureSpec {
  /** At most this many bytes are kept. */
  maxBytes: number;
  /** The first bytes (default) or the last ones (e.g. the end of a long manifest). */
  keep?: 'head' | 'tail';
}

/** One captured entry. */
export interface CapturedEntry {
  name: string;
  /** The entry's full size in the archive. */
  size: number;
  /** The kept bytes (all of them unless `truncated`). */
  data: Buffer;
  truncated: boolean;
}

/** A tar stream that cannot be read: bad header checksum, a truncated archive. */
export class TarFormatError extends StrongboxError {
  constructor(message: string) {
    super('TAR_INVALID', message, 'the archive is damaged or is not a tar stream; take the backup again');
  }
}

type State = { kind: 'header' } | { kind: 'body'; name: string; type: string; left: number; padding: number } | { kind: 'padding'; left: number } | { kind: 'end' };

/**
 * Push the archive's bytes in any chunking; call end() when the stream ends.
 * Throws TarFormatError from push() at a bad header and from end() when the archive
 * stops inside an entry or before its end-of-archive block.
 */
export class TarEntryCapture {
  private state: State = { kind: 'header' };
  private header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  private meta: Buffer[] = [];
  private metaBytes = 0;
  private nextName: string | undefined;
  private capturing: { spec: CaptureSpec; entry: CapturedEntry; parts: Buffer[]; bytes: number } | undefined;
  private readonly captured = new Map<string, CapturedEntry>();
  /** Every regular entry's name (without a leading `./`), in archive order. */
  readonly names: string[] = [];

  constructor(private readonly specs: Readonly<Record<string, CaptureSpec>>) {}

  /** True once the end-of-archive block was read. */
  get ended(): boolean {
    return this.state.kind === 'end';
  }

  /** The captured entry called `name`, or undefined when the archive had none. */
  entry(name: string): CapturedEntry | undefined {
    return this.captured.get(name);
  }

  /** Feeds the next bytes of the archive. */
  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      const state = this.state;
      if (state.kind === 'end') return;
      if (state.kind === 'header') {
        const take = Math.min(BLOCK - this.headerFill, chunk.length - at);
        this.header.set(chunk.subarray(at, at + take), this.headerFill);
        this.headerFill += take;
        at += take;
        if (this.headerFill === BLOCK) {
          this.headerFill = 0;
          this.readHeader();
        }
      } else if (state.kind === 'body') {
        const take = Math.min(state.left, chunk.length - at);
        this.keep(chunk.subarray(at, at + take));
        state.left -= take;
        at += take;
        if (state.left === 0) this.finishEntry(state);
      } else {
        const take = Math.min(state.left, chunk.length - at);
        state.left -= take;
        at += take;
        if (state.left === 0) this.state = { kind: 'header' };
      }
    }
  }

  /** Declares the end of the stream. Throws TarFormatError unless the archive was complete. */
  end(): void {
    if (this.state.kind !== 'end') throw new TarFormatError('the tar stream ended before its end-of-archive block: it is truncated');
  }

  private readHeader(): void {
    const h = this.header;
    if (h.every((byte) => byte === 0)) {
      this.state = { kind: 'end' };
      return;
    }
    const declared = parseNumber(h.subarray(148, 156));
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (h[i] as number);
    if (declared !== sum) throw new TarFormatError(`tar header after entry ${this.names.length} has checksum ${declared}, computed ${sum}: not a tar stream, or damaged`);
    const size = parseNumber(h.subarray(124, 136));
    const type = String.fromCharCode(h[156] as number) || '0';
    const magic = h.subarray(257, 263).toString('latin1');
    const prefix = magic === 'ustar\0' ? cString(h.subarray(345, 500)) : '';
    const name = this.nextName ?? (prefix ? `${prefix}/${cString(h.subarray(0, 100))}` : cString(h.subarray(0, 100)));
    this.nextName = undefined;
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    const state: State = { kind: 'body', name: name.replace(/^(\.\/)+/, ''), type, left: size, padding };
    if (type === 'L' || type === 'x') {
      this.meta = [];
      this.metaBytes = 0;
    } else if (type === '0' || type === '\0' || type === '7') {
      this.names.push(state.name);
      const spec = this.specs[state.name];
      if (spec) this.capturing = { spec, entry: { name: state.name, size, data: Buffer.alloc(0), truncated: size > spec.maxBytes }, parts: [], bytes: 0 };
    }
    this.state = state;
    if (size === 0) this.finishEntry(state);
  }

  private keep(bytes: Uint8Array): void {
    const state = this.state;
    if (state.kind !== 'body') return;
    if (state.type === 'L' || state.type === 'x') {
      if (this.metaBytes + bytes.length > META_LIMIT) throw new TarFormatError(`a tar ${state.type === 'L' ? 'long name' : 'pax header'} is longer than ${META_LIMIT} bytes`);
      this.meta.push(Buffer.from(bytes));
      this.metaBytes += bytes.length;
      return;
    }
    const capture = this.capturing;
    if (!capture) return;
    const { maxBytes, keep = 'head' } = capture.spec;
    if (keep === 'head') {
      const room = maxBytes - capture.bytes;
      if (room <= 0) return;
      const part = Buffer.from(bytes.subarray(0, room));
      capture.parts.push(part);
      capture.bytes += part.length;
      return;
    }
    capture.parts.push(Buffer.from(bytes));
    capture.bytes += bytes.length;
    // Trim now and then, not on every chunk: a long entry costs O(maxBytes) memory, amortised copies.
    if (capture.bytes > 2 * maxBytes) {
      const tail = Buffer.concat(capture.parts).subarray(-maxBytes);
      capture.parts = [tail];
      capture.bytes = tail.length;
    }
  }

  private finishEntry(state: Extract<State, { kind: 'body' }>): void {
    if (state.type === 'L') this.nextName = cString(Buffer.concat(this.meta));
    if (state.type === 'x') this.nextName = paxPath(Buffer.concat(this.meta).toString('utf8')) ?? this.nextName;
    const capture = this.capturing;
    if (capture && capture.entry.name === state.name && state.type !== 'L' && state.type !== 'x') {
      const all = Buffer.concat(capture.parts);
      capture.entry.data = capture.spec.keep === 'tail' ? all.subarray(-capture.spec.maxBytes) : all;
      this.captured.set(state.name, capture.entry);
      this.capturing = undefined;
    }
    this.state = state.padding > 0 ? { kind: 'padding', left: state.padding } : { kind: 'header' };
  }
}

/** A NUL-terminated field. */
function cString(field: Uint8Array): string {
  const end = field.indexOf(0);
  return Buffer.from(end === -1 ? field : field.subarray(0, end)).toString('utf8');
}

/** An octal field (spaces and NULs around it), or GNU's base-256 (high bit of the first byte set). */
function parseNumber(field: Uint8Array): number {
  if (((field[0] as number) & 0x80) !== 0) {
    let value = (field[0] as number) & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + (field[i] as number);
    return value;
  }
  const text = cString(field).trim();
  if (!/^[0-7]*$/.test(text)) throw new TarFormatError(`tar header field "${text}" is not an octal number: not a tar stream, or damaged`);
  return text === '' ? 0 : parseInt(text, 8);
}

/** The `path` of a pax extended header (`<length> path=<value>\n` records). */
function paxPath(text: string): string | undefined {
  for (const record of text.split('\n')) {
    const match = /^\d+ path=(.*)$/s.exec(record);
    if (match) return match[1];
  }
  return undefined;
}
