import { describe, expect, it } from 'vitest';
import { walFileRef, walNameOf } from '../../shared/domain/wal/file-ref';
import { parseWalName } from '../../shared/domain/wal/names';

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

describe('walFileRef: a WAL file name checked once at the edge', () => {
  it.each([
    ['000000010000000A000000FF', 16 * 1024 * 1024],
    ['000000020000000300000001.partial', 16 * 1024 * 1024],
    ['000000010000000000000002.00000028.backup', 64 * 1024 * 1024],
    ['00000003.history', 16 * 1024 * 1024],
    ['0000000100000001000003FF', 1024 * 1024],
  ])('%s gives the WalName parseWalName gives for %i-byte segments, without parsing the text again', (name, segmentSize) => {
    // Act
    const file = walFileRef('app', name);
    // Assess
    expect(file).toMatchObject({ database: 'app', name });
    expect(walNameOf(file, segmentSize)).toEqual(parseWalName(name, segmentSize));
  });

  it('refuses what is not a WAL file name or a database name, with the codes the endpoint answers', () => {
    expect(codeOf(() => walFileRef('app', '../etc/passwd'))).toBe('BAD_WAL_NAME');
    expect(codeOf(() => walFileRef('app', '000000010000000a000000ff'))).toBe('BAD_WAL_NAME');
    expect(codeOf(() => walFileRef('app', '00000000.history'))).toBe('BAD_WAL_NAME');
    expect(codeOf(() => walFileRef('no/slash', '000000010000000000000001'))).toBe('INPUT_INVALID');
  });

  it('a name valid for 1 MiB segments but past the archive segment size is refused once the size is known', () => {
    // Prepare: 0x3FF is the last segment of a log id for 1 MiB segments, past it for 16 MiB (0xFF)
    const file = walFileRef('app', '0000000100000001000003FF');
    // Act / Assess
    expect(codeOf(() => walNameOf(file, 16 * 1024 * 1024))).toBe('BAD_WAL_NAME');
    expect(codeOf(() => walNameOf(file, 3 * 1024 * 1024))).toBe('INPUT_INVALID');
  });
});
