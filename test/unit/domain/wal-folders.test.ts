import { describe, expect, it } from 'vitest';
import { firstFolder, folderOf, folderOfRange, heldByRanges, nextFolder } from '../../../shared/domain/wal/folders';
import { parseWalName, segmentName, segmentStartLsn } from '../../../shared/domain/wal/names';
import type { WalRange } from '../../../shared/domain/wal/ranges';

const range = (from: number, to: number): WalRange => ({ timeline: 1, from: BigInt(from), to: BigInt(to), first: { name: segmentName(1, BigInt(from)) }, last: { name: segmentName(1, BigInt(to)) } });

describe('WAL folders', () => {
  it('a folder is the timeline and log id of its files; the next one is the next log id', () => {
    expect(folderOf('0000000200000003000000FF')).toBe('0000000200000003');
    expect(folderOf('000000010000000A00000001.00000028.backup')).toBe('000000010000000A');
    expect(nextFolder('00000001000000FF')).toBe('0000000100000100');
    expect(nextFolder('00000001FFFFFFFF')).toBeUndefined();
    expect(() => nextFolder('0000000100000G00')).toThrow(/not a WAL folder/);
  });

  it('a timeline begins in the folder of its switch point; timeline 1 at log 0', () => {
    expect(firstFolder(1)).toBe('0000000100000000');
    // Segment 600 of 16 MiB starts at 0x2_5800_0000: log id 2.
    expect(firstFolder(2, segmentStartLsn(600n) + 0x100n)).toBe('0000000200000002');
    expect(folderOfRange({ ...range(600, 700), timeline: 2 }, 16 * 1024 * 1024)).toBe('0000000200000002');
  });

  it('ranges hold the segments inside them, never a .partial, a label or a history file', () => {
    const ranges = [range(0, 99), range(101, 299), range(303, 598)];
    const held = (segno: number) => heldByRanges(ranges, parseWalName(segmentName(1, BigInt(segno))));
    expect([0, 99, 100, 101, 300, 302, 303, 598, 599].map(held)).toEqual([true, true, false, true, false, false, true, true, false]);
    expect(heldByRanges(ranges, parseWalName(`${segmentName(1, 5n)}.partial`))).toBe(false);
    expect(heldByRanges(ranges, parseWalName('00000002.history'))).toBe(false);
    expect(heldByRanges([], parseWalName(segmentName(1, 5n)))).toBe(false);
  });
});
