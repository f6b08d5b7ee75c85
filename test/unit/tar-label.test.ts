import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TarEntryCapture, TarFormatError, type CaptureSpec } from '../../shared/domain/tar-label';

const LABEL = 'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000060\nLABEL: strongbox-x\nSTART TIMELINE: 1\n';
const MAP = '16385 /mnt/space\n';
const LONG_NAME = `${'deep/'.repeat(30)}file.txt`;

let dir = '';
/** Random bytes: a file whose size is not a multiple of 512, spanning many chunks. */
let big: Buffer;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sbx-tar-'));
  const src = join(dir, 'src');
  mkdirSync(join(src, 'pg_wal'), { recursive: true });
  mkdirSync(join(src, LONG_NAME, '..'), { recursive: true });
  big = Buffer.alloc(300_001);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
  writeFileSync(join(src, 'backup_label'), LABEL);
  writeFileSync(join(src, 'tablespace_map'), MAP);
  writeFileSync(join(src, 'pg_wal', '000000010000000000000002'), big);
  writeFileSync(join(src, 'empty'), '');
  writeFileSync(join(src, LONG_NAME), 'deep');
  writeFileSync(join(src, 'backup_manifest'), `{ "Files": [${'{"Path": "x"},'.repeat(5000)}{}],\n"WAL-Ranges": [ {"Timeline": 1} ] }\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A tar of the source folder made by GNU tar in `format`; `./` names when `dotted`. */
function makeTar(format: string, dotted = false): Buffer {
  const file = join(dir, `${format}${dotted ? '-dotted' : ''}.tar`);
  const members = dotted ? ['.'] : ['backup_label', 'tablespace_map', 'empty', 'pg_wal', LONG_NAME, 'backup_manifest'];
  const result = spawnSync('tar', [`--format=${format}`, '-cf', file, '-C', join(dir, 'src'), ...members]);
  if (result.status !== 0) throw new Error(result.stderr.toString());
  return readFileSync(file);
}

const SPECS: Record<string, CaptureSpec> = {
  backup_label: { maxBytes: 64 * 1024 },
  tablespace_map: { maxBytes: 64 * 1024 },
  'pg_wal/000000010000000000000002': { maxBytes: 1000 },
  backup_manifest: { maxBytes: 100, keep: 'tail' },
  [LONG_NAME]: { maxBytes: 100 },
  empty: { maxBytes: 10 },
};

/** Feeds `tar` in chunks of `size` bytes (cycling through `sizes` when several). */
function read(tar: Buffer, sizes: number[]): TarEntryCapture {
  const capture = new TarEntryCapture(SPECS);
  let at = 0;
  for (let i = 0; at < tar.length; i++) {
    const size = sizes[i % sizes.length]!;
    capture.push(tar.subarray(at, at + size));
    at += size;
  }
  capture.end();
  return capture;
}

describe('TarEntryCapture', () => {
  it.each([
    ['ustar', false, [1 << 20]],
    ['gnu', false, [1]],
    ['pax', false, [7, 512, 4096, 3]],
    ['gnu', true, [513, 65_536]],
    ['posix', true, [511]],
  ])('reads %s archives (./ names: %s) in chunks of %j', (format, dotted, sizes) => {
    // Prepare
    const tar = makeTar(format, dotted);

    // Act
    const capture = read(tar, sizes);

    // Assess
    expect(capture.entry('backup_label')?.data.toString()).toBe(LABEL);
    expect(capture.entry('tablespace_map')?.data.toString()).toBe(MAP);
    expect(capture.entry('empty')).toMatchObject({ size: 0, truncated: false });
    const wal = capture.entry('pg_wal/000000010000000000000002')!;
    expect(wal).toMatchObject({ size: big.length, truncated: true });
    expect(wal.data.equals(big.subarray(0, 1000))).toBe(true);
    const manifest = capture.entry('backup_manifest')!;
    expect(manifest.data.toString()).toBe(readFileSync(join(dir, 'src', 'backup_manifest')).subarray(-100).toString());
    expect(capture.entry(LONG_NAME)?.data.toString()).toBe('deep');
    expect(capture.names).toEqual(expect.arrayContaining(['backup_label', 'pg_wal/000000010000000000000002', LONG_NAME]));
    expect(capture.names.some((name) => name.startsWith('./'))).toBe(false);
    expect(capture.ended).toBe(true);
  });

  it('keeps nothing of entries it was not asked for', () => {
    const capture = new TarEntryCapture({});
    capture.push(makeTar('ustar'));
    capture.end();
    expect(capture.entry('backup_label')).toBeUndefined();
    expect(capture.names).toContain('backup_label');
  });

  it('a truncated archive fails at end(), even cut at a block boundary', () => {
    const tar = makeTar('ustar');
    for (const cut of [100, 512, 512 * 5, tar.length - 10_240]) {
      const capture = new TarEntryCapture(SPECS);
      capture.push(tar.subarray(0, cut));
      expect(() => capture.end()).toThrow(TarFormatError);
    }
  });

  it('a damaged header fails with TAR_INVALID', () => {
    const tar = Buffer.from(makeTar('ustar'));
    tar[10] = (tar[10] as number) ^ 0x01; // in the first entry's name: its checksum no longer matches
    const capture = new TarEntryCapture(SPECS);
    expect(() => capture.push(tar)).toThrow(expect.objectContaining({ code: 'TAR_INVALID' }));
    expect(() => new TarEntryCapture(SPECS).push(Buffer.alloc(1024, 'x'))).toThrow(TarFormatError);
  });

  it('reads GNU base-256 sizes', () => {
    // A header of a 1-byte file whose size field is written in base-256 instead of octal.
    const tar = Buffer.from(makeTar('gnu'));
    const capture = new TarEntryCapture({});
    const header = Buffer.alloc(512);
    header.write('b256', 0);
    header.write('0000644\0', 100);
    header.fill(0, 124, 136);
    header[124] = 0x80;
    header[135] = 1;
    header.write('00000000000\0', 136);
    header.write('0', 156);
    header.write('ustar  \0', 257);
    header.fill(0x20, 148, 156);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    const body = Buffer.alloc(512);
    body.write('z');
    capture.push(Buffer.concat([header, body, tar]));
    capture.end();
    expect(capture.names[0]).toBe('b256');
    expect(capture.names).toContain('backup_label');
  });
});
