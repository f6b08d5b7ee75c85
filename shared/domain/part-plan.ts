import { ObjectTooLargeError } from '../errors';

/**
 * How a stream of unknown length is cut into the parts of one S3 multipart upload, so
 * that no upload can run out of parts before S3's 5 TiB object limit. Pure: sizes in,
 * sizes out.
 *
 * S3 allows at most 10,000 parts of 5 MiB–5 GiB each (the last may be smaller), parts of
 * different sizes, and 5 TiB per object. A fixed part size fails one way or the other:
 * 8 MiB parts stop at 78.1 GiB, and 525 MiB parts (the smallest that reach 5 TiB) cost a
 * small dump half a gigabyte of memory per part in flight.
 *
 * The plan starts from an estimate of the object's size (the database's size on disk).
 * One quantity drives it, the **slack**: the parts left after the current one, minus the
 * parts of `growthLimit` (1 GiB) the rest of the largest object would need,
 * `slack = (maxParts − n) − (maxObject − uploaded) / growthLimit`.
 *
 * - Part n is at least `growthLimit × (1 − slack / slackParts)` (and at least the first
 *   part): nothing while the slack is over `slackParts` (1,000), then rising smoothly
 *   towards 1 GiB as the slack shrinks. Each such part leaves the slack at
 *   `slack × (1 − 1/slackParts)` or more, so the slack never goes negative: the parts left
 *   can always carry the stream to 5 TiB, and no part exceeds max(first part, 1 GiB).
 * - The first part is the smallest (whole MiB, at least the driver's minimum) that leaves
 *   `slackParts` of slack once the estimate plus 25 % headroom (the target) is uploaded. An
 *   upload no larger than the target uses that one size throughout, so its memory is known
 *   before it starts; one that outruns the target grows its parts with what it uploads.
 */

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** S3's limits, and the plan's own bounds. Tests scale them down. */
export interface PartLimits {
  /** Most parts in one upload (S3: 10,000). */
  maxParts: number;
  /** Smallest part but the last (S3: 5 MiB). */
  minPartBytes: number;
  /** Largest object (S3: 5 TiB). */
  maxObjectBytes: number;
  /** Parts never grow past this (1 GiB): it bounds memory. At most S3's 5 GiB part; growthLimit × (maxParts − 1 − slackParts) > maxObjectBytes. */
  growthLimitBytes: number;
  /** Parts start growing when the slack falls under this many parts (1,000). */
  slackParts: number;
}

/** S3's limits as AWS documents them. */
export const S3_PART_LIMITS: PartLimits = {
  maxParts: 10_000,
  minPartBytes: 5 * MIB,
  maxObjectBytes: 5 * 1024 * GIB,
  growthLimitBytes: GIB,
  slackParts: 1000,
};

/** The most one object can hold (S3: 5 TiB). */
export const MAX_OBJECT_BYTES = S3_PART_LIMITS.maxObjectBytes;

/**
 * The size estimate to give storage for an object whose size is bounded by `bytes` on disk.
 * `exact`: the object is about that size (an uncompressed base backup: the cluster's files
 * in a tar), so over the largest object it is refused up front. Otherwise it is an upper
 * bound (a compressed dump leaves out indexes and bloat): capped at the largest object, so
 * that a database over 5 TiB whose dump may well fit is tried, and refused only if its
 * stream passes 5 TiB.
 */
export function objectSizeEstimate(bytes: number, exact: boolean): number {
  return exact ? bytes : Math.min(bytes, MAX_OBJECT_BYTES);
}

/** The estimate is multiplied by this before the plan is made. */
export const ESTIMATE_HEADROOM = 1.25;

/** A plan for one upload. */
export interface PartPlan {
  /** The estimate the plan was made from (bytes). */
  estimateBytes: number;
  /** Bytes the plan covers with `firstPartBytes` parts: the estimate plus headroom, at most the largest object. */
  targetBytes: number;
  /** The size of every part while the stream stays within `targetBytes`. */
  firstPartBytes: number;
  limits: PartLimits;
}

const ceilMiB = (bytes: number): number => Math.ceil(bytes / MIB) * MIB;

/**
 * The plan for an upload expected to be about `estimateBytes` long.
 *
 * @param minPartBytes the smallest first part the caller wants (a driver's tuning; S3's 5 MiB at least).
 * @throws ObjectTooLargeError (OBJECT_TOO_LARGE) when the estimate is over the largest object.
 * @throws RangeError when the estimate is not a finite number ≥ 0, or the limits cannot reach the largest object.
 */
export function planParts(estimateBytes: number, minPartBytes = 0, limits: PartLimits = S3_PART_LIMITS): PartPlan {
  if (!Number.isFinite(estimateBytes) || estimateBytes < 0) throw new RangeError(`size estimate ${estimateBytes} is not a number of bytes`);
  if (limits.growthLimitBytes * (limits.maxParts - 1 - limits.slackParts) <= limits.maxObjectBytes) {
    throw new RangeError('growthLimitBytes × (maxParts − 1 − slackParts) must exceed maxObjectBytes');
  }
  if (estimateBytes > limits.maxObjectBytes) throw new ObjectTooLargeError(estimateBytes, limits.maxObjectBytes, 'estimate');
  const targetBytes = Math.min(limits.maxObjectBytes, Math.ceil(estimateBytes * ESTIMATE_HEADROOM));
  // The target in parts of `first` must leave slackParts of slack (one part spare for rounding):
  // target / first ≤ maxParts − 1 − slackParts − (maxObject − target) / growthLimit.
  const partsForTarget = limits.maxParts - 1 - limits.slackParts - (limits.maxObjectBytes - targetBytes) / limits.growthLimitBytes;
  const needed = targetBytes === 0 ? 0 : ceilMiB(targetBytes / partsForTarget);
  const firstPartBytes = Math.max(limits.minPartBytes, ceilMiB(minPartBytes), needed);
  return { estimateBytes, targetBytes, firstPartBytes, limits };
}

/**
 * The parts left after part `partNumber`, minus the parts of growthLimit that the rest of
 * the largest object would need once `uploadedBytes` are uploaded. Never negative when every
 * part follows {@link nextPartSize}.
 */
export function slack(limits: PartLimits, partNumber: number, uploadedBytes: number): number {
  return limits.maxParts - partNumber - (limits.maxObjectBytes - uploadedBytes) / limits.growthLimitBytes;
}

/**
 * The size of part `partNumber` (1-based) when `uploadedBytes` were cut into the parts
 * before it: `max(first part, growthLimit × (1 − slack / slackParts))`, in whole MiB, and
 * never more than is left up to the largest object.
 *
 * Why no upload runs out of parts: the slack before part 1 is `maxParts − 1 − maxObject /
 * growthLimit > slackParts` (checked by planParts). A part of p bytes changes the slack
 * by `p / growthLimit − 1`; with `p ≥ growthLimit × (1 − s / slackParts)` the slack s becomes
 * at least `s × (1 − 1 / slackParts)`, so it stays ≥ 0. A slack ≥ 0 at part n means the
 * parts after it, at growthLimit each, carry everything up to maxObject; at the last part it
 * means maxObject is already uploaded. And while the slack is ≥ 0 the formula asks for at
 * most growthLimit.
 *
 * @throws ObjectTooLargeError when `uploadedBytes` already reach the largest object, or every part is used.
 */
export function nextPartSize(plan: PartPlan, partNumber: number, uploadedBytes: number): number {
  const { limits } = plan;
  if (uploadedBytes >= limits.maxObjectBytes || partNumber > limits.maxParts) throw new ObjectTooLargeError(uploadedBytes + 1, limits.maxObjectBytes, 'stream');
  const grown = limits.growthLimitBytes * (1 - slack(limits, partNumber, uploadedBytes) / limits.slackParts);
  // Never past the largest object: a stream that goes on asks for one more part, and is refused.
  return Math.min(limits.maxObjectBytes - uploadedBytes, Math.max(plan.firstPartBytes, grown > 0 ? ceilMiB(grown) : 0));
}

/** What an upload of a given size looks like under a plan: for docs, benchmarks and tests. */
export interface PartSchedule {
  parts: number;
  /** The largest part (bytes). */
  largestPartBytes: number;
  /** The sizes of every part, last one included, in order; only with `keepSizes`. */
  sizes?: number[];
}

/**
 * Walks `nextPartSize` over an upload of `actualBytes` (which may differ from the estimate).
 *
 * @throws ObjectTooLargeError when `actualBytes` is over the largest object.
 */
export function schedule(plan: PartPlan, actualBytes: number, keepSizes = false): PartSchedule {
  let uploaded = 0;
  let parts = 0;
  let largestPartBytes = 0;
  const sizes: number[] = [];
  while (uploaded < actualBytes || parts === 0) {
    const size = Math.min(nextPartSize(plan, parts + 1, uploaded), actualBytes - uploaded);
    parts += 1;
    uploaded += size;
    largestPartBytes = Math.max(largestPartBytes, size);
    if (keepSizes) sizes.push(size);
    if (size === 0) break;
  }
  return { parts, largestPartBytes, ...(keepSizes ? { sizes } : {}) };
}

/**
 * Parts uploaded in parallel so that the buffers, `partBytes × (inFlight + 1)` (the parts
 * in flight and the one filling), stay within `memoryBytes`; at least 1 (then the memory
 * is two parts, whatever the budget), at most `queueSize`.
 */
export function partsInFlight(partBytes: number, memoryBytes: number, queueSize: number): number {
  return Math.max(1, Math.min(queueSize, Math.floor(memoryBytes / partBytes) - 1));
}
