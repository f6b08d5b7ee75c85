/**
 * bench:scale, part 1: the S3 part plan from 1 GiB to 5 TiB (pure: no server). For each
 * estimate, what the uploader plans and what it does when the object turns out the
 * estimate, twice the estimate, or 5 TiB.
 */
import { planParts, S3_PART_LIMITS, schedule } from '../../shared/domain/part-plan';
import { markdownTable } from '../measure';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const TIB = 1024 * GIB;

const ESTIMATES: ReadonlyArray<[string, number]> = [
  ['1 GiB', GIB],
  ['10 GiB', 10 * GIB],
  ['100 GiB', 100 * GIB],
  ['1 TiB', TIB],
  ['5 TiB', 5 * TIB],
];

function size(bytes: number): string {
  return bytes >= GIB ? `${(bytes / GIB).toFixed(2)} GiB` : `${Math.round(bytes / MIB)} MiB`;
}

/** The part plan as a Markdown table; `ok` is false if any upload in it runs out of parts. */
export function partPlanReport(): { table: string; ok: boolean } {
  let ok = true;
  const rows = ESTIMATES.map(([label, estimate]) => {
    const plan = planParts(estimate);
    const cells = [estimate, Math.min(2 * estimate, S3_PART_LIMITS.maxObjectBytes), S3_PART_LIMITS.maxObjectBytes].map((actual) => {
      const run = schedule(plan, actual);
      if (run.parts > S3_PART_LIMITS.maxParts) ok = false;
      return `${run.parts.toLocaleString('en')} parts, largest ${size(run.largestPartBytes)}`;
    });
    return [label, size(plan.firstPartBytes), ...cells];
  });
  const table = markdownTable(['estimate', 'first part', 'object = estimate', 'object = 2 × estimate (≤ 5 TiB)', 'object = 5 TiB'], rows);
  return { table, ok };
}
