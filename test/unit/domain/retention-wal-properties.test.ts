/**
 * The PITR invariants of the planner, over generated archives: per database a run of WAL
 * segments (one every 6 hours, some missing), base backups anywhere in it (VERIFIED,
 * FAILED, RUNNING, with or without their WAL inside, some marked, some damaged), restore
 * points around the restore-point window, and random walDays.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BackupEntry, Tier } from '../../../shared/domain/backup';
import { deletedByMark, parseRetentionPolicy, planRetention, type RestorePointView, type RetentionPlan, type RetentionPolicy, type WalDatabaseView } from '../../../shared/domain/retention';
import { timelinePath } from '../../../shared/domain/wal/history';
import { formatLsn, segmentName, segmentStartLsn } from '../../../shared/domain/wal/names';

const HOUR = 3_600_000;
const STEP = 6 * HOUR;
const SEGMENTS = 160; // 40 days
const NOW = Date.parse('2026-06-15T12:00:00.000Z');
const T0 = NOW - SEGMENTS * STEP;
const DATABASES = ['app', 'crm'] as const;

/** When segment `s` was complete (its last byte written). */
const doneAt = (s: number) => T0 + s * STEP;
/** The segment holding moment `m`. */
const segmentAt = (m: number) => Math.ceil((m - T0) / STEP);
const name = (s: number) => segmentName(1, BigInt(s));

interface GeneratedBase {
  database: (typeof DATABASES)[number];
  start: number;
  length: number;
  state: 'VERIFIED' | 'FAILED' | 'RUNNING';
  walIncluded: boolean;
  tier: Tier;
  marked: boolean;
  damaged: boolean;
}

const baseArb: fc.Arbitrary<GeneratedBase> = fc.record({
  database: fc.constantFrom(...DATABASES),
  start: fc.integer({ min: 1, max: SEGMENTS - 2 }),
  length: fc.integer({ min: 0, max: 2 }),
  state: fc.constantFrom('VERIFIED', 'VERIFIED', 'VERIFIED', 'FAILED', 'RUNNING'),
  walIncluded: fc.boolean(),
  tier: fc.constantFrom<Tier>('daily', 'daily', 'weekly', 'monthly', 'manual'),
  marked: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  damaged: fc.integer({ min: 0, max: 19 }).map((n) => n === 0),
});

interface Scenario {
  policy: RetentionPolicy;
  bases: GeneratedBase[];
  entries: BackupEntry[];
  /** Per database: archived segment numbers. */
  archived: Record<string, Set<number>>;
  points: RestorePointView[];
}

function entryOf(g: GeneratedBase, index: number): BackupEntry {
  const id = `b${String(index).padStart(3, '0')}`;
  const folder = `base/${g.tier}/${g.database}/${id}/`;
  const stop = g.start + g.length;
  const startedAt = new Date(doneAt(g.start - 1) + 60_000).toISOString();
  const entry: BackupEntry = {
    id,
    database: g.database,
    kind: 'base',
    tier: g.tier,
    scope: 'full',
    state: g.state,
    key: `${folder}dump.zst`,
    manifestKey: `${folder}manifest.json`,
    compression: 'zstd',
    startedAt,
    heartbeatAt: startedAt,
    ...(g.state === 'RUNNING' ? {} : { finishedAt: new Date(doneAt(stop)).toISOString() }),
    base: {
      startLsn: formatLsn(segmentStartLsn(BigInt(g.start)) + 40n),
      stopLsn: formatLsn(segmentStartLsn(BigInt(stop)) + 100n),
      timeline: 1,
      stopTimeline: 1,
      systemId: '7311234567890123456',
      pgVersion: 15,
      walSegments: { first: name(g.start), last: name(stop) },
      label: '',
      walIncluded: g.walIncluded,
    },
    ...(g.marked ? { deleting: { at: new Date(NOW).toISOString(), rule: 'PAST_WINDOW' } } : {}),
  };
  return g.damaged ? ({ ...entry, base: { ...entry.base, walSegments: undefined } } as unknown as BackupEntry) : entry;
}

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    walDays: fc.integer({ min: 1, max: 12 }),
    dailyDays: fc.integer({ min: 1, max: 40 }),
    restorePointHours: fc.integer({ min: 1, max: 30 }),
    bases: fc.array(baseArb, { maxLength: 14 }),
    missing: fc.array(fc.tuple(fc.constantFrom(...DATABASES), fc.integer({ min: 1, max: SEGMENTS })), { maxLength: 6 }),
    points: fc.array(fc.record({ database: fc.constantFrom(...DATABASES), ageMinutes: fc.integer({ min: -60, max: 48 * 60 }), broken: fc.integer({ min: 0, max: 14 }).map((n) => n === 0) }), { maxLength: 12 }),
  })
  .map(({ walDays, dailyDays, restorePointHours, bases, missing, points }) => {
    const policy = parseRetentionPolicy({ walDays, dailyDays, weeklyDays: Math.max(dailyDays, 60), monthlyDays: 365, restorePointHours });
    const archived: Record<string, Set<number>> = Object.fromEntries(DATABASES.map((db) => [db, new Set(Array.from({ length: SEGMENTS }, (_, i) => i + 1))]));
    for (const [db, s] of missing) archived[db]!.delete(s);
    return {
      policy,
      bases,
      entries: bases.map(entryOf),
      archived,
      points: points.map((p, index) => ({ database: p.database, name: `rp${index}`, createdAt: p.broken ? 'soon' : new Date(NOW - p.ageMinutes * 60_000).toISOString() })),
    };
  });

function views(): WalDatabaseView[] {
  return DATABASES.map((database) => ({ database, timelines: [{ timeline: 1, updatedAt: new Date(NOW - HOUR).toISOString() }], paths: new Map([[1, timelinePath(1, [])]]) }));
}

function planOf(scenario: Scenario, entries = scenario.entries, walViews = views()): RetentionPlan {
  return planRetention({ backups: entries, wal: walViews, restorePoints: scenario.points }, scenario.policy, new Date(NOW));
}

/** The archived segments of `database` left after the plan's WAL deletions. */
function remaining(plan: RetentionPlan, scenario: Scenario, database: string): Set<number> {
  const marks = plan.wal.filter((d) => d.database === database && d.action === 'delete').map((d) => d.mark!);
  return new Set([...scenario.archived[database]!].filter((s) => !marks.some((mark) => deletedByMark(mark, 1, name(s)))));
}

/** Restore sources: sound, VERIFIED, unmarked base backups of `database` (optionally only the kept ones). */
function sources(scenario: Scenario, database: string, plan?: RetentionPlan): GeneratedBase[] {
  const deleted = new Set(plan?.decisions.filter((d) => d.action === 'delete').map((d) => d.id) ?? []);
  return scenario.bases.filter((g, i) => g.database === database && g.state === 'VERIFIED' && !g.marked && !g.damaged && !deleted.has(scenario.entries[i]!.id));
}

function reachable(moment: number, bases: GeneratedBase[], segments: Set<number>): boolean {
  const last = segmentAt(moment);
  return bases.some((b) => {
    if (!(doneAt(b.start + b.length) < moment)) return false;
    for (let s = b.start; s <= last; s += 1) if (!segments.has(s)) return false;
    return true;
  });
}

const RUNS = { numRuns: 300 };

describe('planRetention PITR invariants (fast-check)', () => {
  it('keeps every moment of the PITR window that was reachable reachable: a kept base backup and contiguous WAL', () => {
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        const plan = planOf(scenario);
        const windowStart = NOW - scenario.policy.walDays * 24 * HOUR;
        for (const database of DATABASES) {
          const before = scenario.archived[database]!;
          const after = remaining(plan, scenario, database);
          const moments = [windowStart, NOW];
          for (let s = segmentAt(windowStart); s <= SEGMENTS; s += 1) moments.push(doneAt(s), doneAt(s) - STEP / 2);
          for (const moment of moments.filter((m) => m >= windowStart && m <= NOW)) {
            if (reachable(moment, sources(scenario, database), before)) {
              expect(reachable(moment, sources(scenario, database, plan), after), `${database} at ${new Date(moment).toISOString()}`).toBe(true);
            }
          }
        }
      }),
      RUNS,
    );
  });

  it('deletes no segment from the start of the newest base backup that ended before the window', () => {
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        const plan = planOf(scenario);
        const windowStart = NOW - scenario.policy.walDays * 24 * HOUR;
        for (const database of DATABASES) {
          const anchor = sources(scenario, database)
            .filter((b) => doneAt(b.start + b.length) < windowStart)
            .sort((a, b) => b.start - a.start)[0];
          if (!anchor) continue;
          const after = remaining(plan, scenario, database);
          for (const s of scenario.archived[database]!) if (s >= anchor.start) expect(after.has(s)).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('keeps the WAL from start to stop of every kept base backup whose WAL is not inside it', () => {
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        const plan = planOf(scenario);
        const byId = new Map(plan.decisions.map((d) => [d.id, d]));
        scenario.bases.forEach((g, i) => {
          if (g.damaged || g.walIncluded || byId.get(scenario.entries[i]!.id)!.action === 'delete') return;
          const after = remaining(plan, scenario, g.database);
          for (let s = g.start; s <= g.start + g.length; s += 1) if (scenario.archived[g.database]!.has(s)) expect(after.has(s)).toBe(true);
        });
      }),
      RUNS,
    );
  });

  it('deletes no WAL of a database with a damaged base backup, and never a base backup still RUNNING', () => {
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        const plan = planOf(scenario);
        const byId = new Map(plan.decisions.map((d) => [d.id, d]));
        scenario.bases.forEach((g, i) => {
          const decision = byId.get(scenario.entries[i]!.id)!;
          if (g.state === 'RUNNING') expect(decision.action).not.toBe('delete');
          if (g.damaged && !g.marked) {
            expect(decision.rule).toBe('INCOMPLETE_ENTRY');
            expect(plan.wal.filter((d) => d.database === g.database && d.action === 'delete')).toEqual([]);
          }
        });
      }),
      RUNS,
    );
  });

  it('drops restore points older than restorePointHours, keeps the others and the unreadable ones', () => {
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        const plan = planOf(scenario);
        expect(plan.restorePoints).toHaveLength(scenario.points.length);
        for (const decision of plan.restorePoints) {
          const created = Date.parse(decision.createdAt);
          const old = Number.isFinite(created) && NOW - created > scenario.policy.restorePointHours * HOUR;
          expect(decision.action).toBe(old ? 'delete' : 'keep');
        }
      }),
      RUNS,
    );
  });

  it('is deterministic: the same catalog in any order gives the same plan', () => {
    const arb = scenarioArb.chain((scenario) => fc.tuple(fc.constant(scenario), fc.shuffledSubarray(scenario.entries, { minLength: scenario.entries.length, maxLength: scenario.entries.length })));
    fc.assert(
      fc.property(arb, ([scenario, shuffled]) => {
        const first = planOf(scenario);
        expect(planOf(scenario, shuffled, views().reverse())).toEqual(first);
        expect(planOf(scenario, structuredClone(scenario.entries).reverse())).toEqual(first);
      }),
      RUNS,
    );
  });

  it('never deletes more WAL or base backups under a longer walDays', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 1, max: 10 }), (scenario, extra) => {
        const longer = { ...scenario, policy: parseRetentionPolicy({ ...scenario.policy, walDays: scenario.policy.walDays + extra }) };
        const shortPlan = planOf(scenario);
        const longPlan = planOf(longer);
        const deletedIds = (plan: RetentionPlan) => new Set(plan.decisions.filter((d) => d.action === 'delete').map((d) => d.id));
        const short = deletedIds(shortPlan);
        expect([...deletedIds(longPlan)].every((id) => short.has(id))).toBe(true);
        for (const database of DATABASES) {
          const keptShort = remaining(shortPlan, scenario, database);
          for (const s of keptShort) expect(remaining(longPlan, longer, database).has(s)).toBe(true);
        }
      }),
      RUNS,
    );
  });
});
