/**
 * Which timeline the live server is on, and so which one a recovery or the status follows
 * by default. Pure.
 *
 * The archive alone cannot tell: a recovered copy that archived its own timeline (a drill,
 * a side recovery) would look like the newest history. Only what was read from the live
 * server counts as evidence: the WAL checkpoint (it switches WAL on the configured
 * connection and records the timeline), a base backup (taken from that connection), and a
 * promotion the user confirmed with `strongbox pitr --as-primary`. The newest evidence wins.
 */

export type LiveTimelineSource = 'checkpoint' | 'base-backup' | 'promotion';

export interface LiveTimelineEvidence {
  timeline: number;
  /** When it was read (ISO-8601 UTC). */
  at: string;
  source: LiveTimelineSource;
}

/** The newest evidence (the last one given wins a tie), or undefined when there is none. */
export function liveTimeline(evidence: readonly LiveTimelineEvidence[]): LiveTimelineEvidence | undefined {
  let newest: LiveTimelineEvidence | undefined;
  for (const item of evidence) {
    if (!Number.isInteger(item.timeline) || item.timeline < 1 || !Number.isFinite(Date.parse(item.at))) continue;
    if (!newest || Date.parse(item.at) >= Date.parse(newest.at)) newest = item;
  }
  return newest;
}

/** The timeline to follow when the user names none, and why. */
export interface TimelineChoice {
  timeline: number;
  /** The live server's timeline, when known. */
  live?: LiveTimelineEvidence;
  /** Set when the choice is not the live timeline itself: what the user should know. */
  warning?: string;
}

/**
 * The default timeline of a recovery or of the status: the live server's when the archive
 * has WAL of it; else the newest archived one at or below it (a timeline just promoted has
 * archived nothing yet); with no evidence at all, the newest archived one (PostgreSQL's
 * `latest`), with a warning that a recovered copy could have taken it over.
 */
export function defaultTimeline(options: { archived: readonly number[]; live?: LiveTimelineEvidence }): TimelineChoice {
  const archived = [...new Set(options.archived)].sort((a, b) => a - b);
  const newest = archived.at(-1) ?? 1;
  const { live } = options;
  if (!live) {
    return {
      timeline: newest,
      ...(archived.length > 1 ? { warning: `the live server's timeline is not recorded yet (the WAL checkpoint records it): following the newest archived timeline ${newest}; give --timeline N if that is a recovered copy's` } : {}),
    };
  }
  if (archived.length === 0 || archived.includes(live.timeline)) return { timeline: live.timeline, live };
  const below = archived.filter((timeline) => timeline < live.timeline).at(-1);
  if (below !== undefined) return { timeline: below, live, warning: `the live server is on timeline ${live.timeline}, which has no archived WAL yet: following timeline ${below}` };
  return { timeline: newest, live, warning: `the live server is on timeline ${live.timeline}, which the archive does not have: following the newest archived timeline ${newest}` };
}

/** "timelines 1, 2 and 3" style list for messages. */
export function listTimelines(timelines: readonly number[]): string {
  const sorted = [...timelines].sort((a, b) => a - b).map(String);
  if (sorted.length <= 1) return sorted.join('');
  return `${sorted.slice(0, -1).join(', ')} and ${sorted.at(-1)}`;
}
