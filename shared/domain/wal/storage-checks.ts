import { timelineForSegment } from './continuity';
import { DEFAULT_SEGMENT_SIZE, parseWalName, segmentName } from './names';
import type { ArchiveView, PitrPlan } from './pitr-plan';
import { stretchSegnos } from './ranges';

/** Segments checked in storage besides the ends of each stretch; a plan needing at most this many checks them all. */
export const STORAGE_SAMPLE = 64;

/**
 * Which of the plan's segments to look for in storage: all of them when they are few
 * (STORAGE_SAMPLE or fewer); else the first and last segment of each timeline's stretch
 * of the plan and STORAGE_SAMPLE others drawn at random (`random`, default Math.random).
 * Why that is enough: a record is written only after its segment's bytes were verified in
 * storage, and what removes stored WAL in the normal course — retention — removes the
 * oldest first, which the first segment catches; the last one catches a tail not stored
 * yet; a lost prefix, bucket or lifecycle rule shows in the sample with near certainty.
 * A single object deleted by hand in the middle may pass: recovery then stops at it
 * (wal-fetch exits 200, PostgreSQL does not promote, and the report names it), and
 * `strongbox validate` and the reconciliation with storage find it first.
 */
export function storageChecks(plan: PitrPlan, archive: ArchiveView, random: () => number = Math.random): string[] {
  const segmentSize = archive.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  const first = parseWalName(plan.wal.first, segmentSize).segno!;
  const last = parseWalName(plan.wal.last, segmentSize).segno!;
  const nameAt = (segno: bigint) => segmentName(timelineForSegment(archive.path, segno, segmentSize), segno, segmentSize);
  const names = new Set<string>();
  if (last - first + 1n <= BigInt(STORAGE_SAMPLE)) {
    for (let segno = first; segno <= last; segno += 1n) names.add(nameAt(segno));
    return [...names];
  }
  for (const stretch of stretchSegnos(archive.path, segmentSize)) {
    const low = stretch.from > first ? stretch.from : first;
    const high = stretch.to !== undefined && stretch.to < last ? stretch.to : last;
    if (low <= high) names.add(nameAt(low)).add(nameAt(high));
  }
  const span = Number(last - first + 1n);
  for (let index = 0; index < STORAGE_SAMPLE; index += 1) names.add(nameAt(first + BigInt(Math.floor(random() * span))));
  return [...names].sort((a, b) => a.slice(8).localeCompare(b.slice(8)));
}
