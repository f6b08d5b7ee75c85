import { describe, expect, it } from 'vitest';
import { parseLsn, segmentName } from '../../../shared/domain/wal/names';
import type { ArchiveView, PitrPlan } from '../../../shared/domain/wal/pitr-plan';
import { STORAGE_SAMPLE, storageChecks } from '../../../shared/domain/wal/storage-checks';

const SIZE = 16 * 1024 * 1024;

/** A 16 MiB segment's number from its name (256 segments per log id). */
const segnoOf = (name: string): bigint => BigInt(`0x${name.slice(8, 16)}`) * 256n + BigInt(`0x${name.slice(16, 24)}`);

function planOver(first: bigint, last: bigint, timeline: number): PitrPlan {
  return {
    base: { id: 'b', startLsn: parseLsn('0/0'), stopLsn: parseLsn('0/0'), timeline: 1, finishedAt: '2026-12-01T00:00:00.000Z', walIncluded: true },
    target: 'latest',
    timelines: [1, timeline].filter((value, index, all) => all.indexOf(value) === index),
    wal: { first: segmentName(1, first, SIZE), last: segmentName(timeline, last, SIZE), count: Number(last - first + 1n) },
    reach: { lsn: '0/0' },
    warnings: [],
  };
}

describe('storageChecks: the WAL records a PITR plan looks for in storage', () => {
  it('looks for every segment of a plan of at most STORAGE_SAMPLE segments', () => {
    // Arrange
    const archive: ArchiveView = { path: [{ timeline: 1, beginLsn: parseLsn('0/0') }], segmentSize: SIZE };

    // Act
    const names = storageChecks(planOver(10n, 10n + BigInt(STORAGE_SAMPLE) - 1n, 1), archive);

    // Assert
    expect(names).toHaveLength(STORAGE_SAMPLE);
    expect(names[0]).toBe(segmentName(1, 10n, SIZE));
  });

  it('looks for both ends of each timeline stretch and a sample, never more than the sample plus the ends', () => {
    // Arrange: 1,000,000 segments, a switch to timeline 2 at segment 600,000.
    const switchAt = 600_000n;
    const archive: ArchiveView = {
      path: [
        { timeline: 1, beginLsn: parseLsn('0/0'), endLsn: BigInt(switchAt) * BigInt(SIZE) },
        { timeline: 2, beginLsn: BigInt(switchAt) * BigInt(SIZE) },
      ],
      segmentSize: SIZE,
    };
    let seed = 7;
    const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);

    // Act
    const names = storageChecks(planOver(0n, 999_999n, 2), archive, random);

    // Assert: the first and last segment of each stretch, on its own timeline, and at most 64 others.
    expect(names).toContain(segmentName(1, 0n, SIZE));
    expect(names).toContain(segmentName(1, switchAt - 1n, SIZE));
    expect(names).toContain(segmentName(2, switchAt, SIZE));
    expect(names).toContain(segmentName(2, 999_999n, SIZE));
    expect(names.length).toBeGreaterThan(4);
    expect(names.length).toBeLessThanOrEqual(STORAGE_SAMPLE + 4);
    // Every sampled name is on the timeline recovery reads it from.
    for (const name of names) expect(name.slice(0, 8)).toBe(segnoOf(name) >= switchAt ? '00000002' : '00000001');
  });
});
