/**
 * The planner's invariants, checked over generated catalogs: several databases, every
 * tier and state, times around `now` (some in the future: clock skew), exact window
 * boundaries, entries already marked for deletion, damaged entries, and random policies.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BACKUP_STATES, TIERS, type BackupEntry } from '../../../shared/domain/backup';
import { parseRetentionPolicy, planRetention, type RetentionDecision, type RetentionPlan, type RetentionPolicy } from '../../../shared/domain/retention';

const DAY = 86_400_000;
const NOW = new Date('2026-06-15T12:00:00.000Z');

const policyArb: fc.Arbitrary<RetentionPolicy> = fc
  .record({ daily: fc.integer({ min: 1, max: 60 }), weekly: fc.integer({ min: 0, max: 100 }), monthly: fc.integer({ min: 0, max: 400 }), cold: fc.integer({ min: 0, max: 1000 }), failed: fc.integer({ min: 1, max: 30 }) })
  .map(({ daily, weekly, monthly, cold, failed }) => {
    const monthlyDays = daily + weekly + monthly;
    return parseRetentionPolicy({ dailyDays: daily, weeklyDays: daily + weekly, monthlyDays, monthlyColdAfterDays: Math.min(cold, monthlyDays), failedDays: failed });
  });

/**
 * Milliseconds before NOW: anywhere from 5 days in the future to 500 days back, often
 * exactly on the entry's own edge (its tier's window, or FAILED's), or within a day of
 * any of the policy's edges — where an off-by-one would delete too early.
 */
function ageArb(policy: RetentionPolicy, ownEdgeDays: number | undefined): fc.Arbitrary<number> {
  const edges = [0, policy.dailyDays, policy.weeklyDays, policy.monthlyDays, policy.failedDays, policy.monthlyColdAfterDays].map((days) => days * DAY);
  const own = (ownEdgeDays ?? 0) * DAY;
  return fc.oneof(
    fc.integer({ min: -5 * DAY, max: 500 * DAY }),
    fc.constantFrom(own - 1, own, own + 1),
    fc.constantFrom(...edges).chain((edge) => fc.integer({ min: edge - DAY, max: edge + DAY })),
  );
}

function windowDays(policy: RetentionPolicy, tier: string): number | undefined {
  return tier === 'daily' ? policy.dailyDays : tier === 'weekly' ? policy.weeklyDays : tier === 'monthly' ? policy.monthlyDays : undefined;
}

const damageArb = fc.constantFrom<Record<string, unknown>>(
  { tier: 'hourly' },
  { state: 'LOST' },
  { startedAt: undefined },
  { startedAt: 'yesterday' },
  { key: 'logical/daily/app/someone-else/dump' },
  { deleting: { rule: 'PAST_WINDOW' } },
);

const entryArb = (policy: RetentionPolicy) =>
  fc
    .record({
      database: fc.constantFrom('app', 'billing', 'crm'),
      kind: fc.constantFrom('logical', 'logical', 'logical', 'base'),
      tier: fc.constantFrom(...TIERS),
      // Mostly VERIFIED, as in a real catalog; every state appears.
      state: fc.constantFrom(...BACKUP_STATES, 'VERIFIED', 'VERIFIED', 'VERIFIED'),
      scope: fc.constantFrom('full', 'full', 'tables'),
      expiresIn: fc.option(fc.integer({ min: -100 * DAY, max: 100 * DAY }), { freq: 4 }),
      /** About one in ten is already marked for deletion (a run that stopped half-way). */
      marked: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
      damage: fc.option(damageArb, { freq: 12 }),
    })
    .chain((fields) => ageArb(policy, fields.state === 'FAILED' ? policy.failedDays : windowDays(policy, fields.tier)).map((age) => ({ ...fields, age })));

type Generated = ReturnType<typeof entryArb> extends fc.Arbitrary<infer T> ? T : never;

function build(generated: Generated, index: number): BackupEntry {
  const id = `e${String(index).padStart(3, '0')}`;
  const folder = `${generated.kind}/${generated.tier}/${generated.database}/${id}/`;
  const startedAt = new Date(NOW.getTime() - generated.age).toISOString();
  const entry: BackupEntry = {
    id,
    database: generated.database,
    kind: generated.kind as BackupEntry['kind'],
    tier: generated.tier,
    scope: generated.scope as BackupEntry['scope'],
    state: generated.state,
    key: `${folder}dump`,
    manifestKey: `${folder}manifest.json`,
    globalsKey: `${folder}globals.sql`,
    compression: 'gzip',
    startedAt,
    heartbeatAt: startedAt,
    ...(generated.expiresIn === null ? {} : { expiresAt: new Date(NOW.getTime() + generated.expiresIn).toISOString() }),
    ...(generated.marked ? { deleting: { at: NOW.toISOString(), rule: 'PAST_WINDOW' } } : {}),
  };
  return (generated.damage ? { ...entry, ...generated.damage } : entry) as BackupEntry;
}

interface Case {
  generated: Generated;
  entry: BackupEntry;
}

/** A policy and a catalog generated around its edges. */
const scenarioArb: fc.Arbitrary<[Case[], RetentionPolicy]> = policyArb.chain((policy) =>
  fc.tuple(
    fc.array(entryArb(policy), { maxLength: 40, size: 'max' }).map((list) => list.map((generated, index): Case => ({ generated, entry: build(generated, index) }))),
    fc.constant(policy),
  ),
);

/** Each entry's decision, by identity; fails unless every entry has exactly one. */
function decisionsOf(plan: RetentionPlan, cases: Case[]): Map<BackupEntry, RetentionDecision> {
  const byEntry = new Map<BackupEntry, RetentionDecision>();
  for (const decision of plan.decisions) {
    if (byEntry.has(decision.entry)) throw new Error(`two decisions for ${decision.id}`);
    byEntry.set(decision.entry, decision);
  }
  if (byEntry.size !== cases.length || cases.some((c) => !byEntry.has(c.entry))) throw new Error('an entry has no decision');
  return byEntry;
}

function plan(cases: Case[], policy: RetentionPolicy): Map<BackupEntry, RetentionDecision> {
  return decisionsOf(planRetention({ backups: cases.map((c) => c.entry) }, policy, NOW), cases);
}

/** The protectable backups of one database: sound, logical, full, VERIFIED, not marked. */
function protectable(cases: Case[], database: string): Case[] {
  return cases.filter(({ generated: g }) => !g.damage && !g.marked && g.database === database && g.kind === 'logical' && g.scope === 'full' && g.state === 'VERIFIED');
}

function newest(cases: Case[]): Case | undefined {
  return [...cases].sort((a, b) => a.generated.age - b.generated.age || (a.entry.id < b.entry.id ? 1 : -1))[0];
}

const RUNS = { numRuns: 300 };

describe('planRetention invariants (fast-check)', () => {
  it('gives every entry exactly one decision: keep, delete or cold', () => {
    fc.assert(
      fc.property(scenarioArb, ([cases, policy]) => {
        const decisions = plan(cases, policy);
        return [...decisions.values()].every((decision) => ['keep', 'delete', 'cold'].includes(decision.action));
      }),
      RUNS,
    );
  });

  it('never deletes the newest VERIFIED full backup of a database, and always leaves one when there was one', () => {
    fc.assert(
      fc.property(scenarioArb, ([cases, policy]) => {
        const decisions = plan(cases, policy);
        const deleted = (c: Case) => decisions.get(c.entry)!.action === 'delete';
        for (const database of ['app', 'billing', 'crm']) {
          const candidates = protectable(cases, database);
          const newestAtAll = newest(candidates);
          const newestInThePast = newest(candidates.filter((c) => c.generated.age >= 0));
          if (newestAtAll) expect(deleted(newestAtAll)).toBe(false);
          if (newestInThePast) expect(deleted(newestInThePast)).toBe(false);
          if (candidates.length) expect(candidates.some((c) => !deleted(c))).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('never deletes a RUNNING or UPLOADED backup, an entry from the future, a damaged entry or a base backup', () => {
    fc.assert(
      fc.property(scenarioArb, ([cases, policy]) => {
        const decisions = plan(cases, policy);
        for (const { generated: g, entry } of cases) {
          const decision = decisions.get(entry)!;
          if (g.state === 'RUNNING' || g.state === 'UPLOADED' || g.kind === 'base') expect(decision.action).not.toBe('delete');
          if (g.age < 0) expect(decision.action).toBe('keep');
          if (g.damage) expect(decision.rule).toBe('INCOMPLETE_ENTRY');
        }
      }),
      RUNS,
    );
  });

  it('deletes nothing inside its window: the tier\'s, FAILED\'s, or an expiresAt still ahead', () => {
    fc.assert(
      fc.property(scenarioArb, ([cases, policy]) => {
        const decisions = plan(cases, policy);
        for (const { generated: g, entry } of cases) {
          if (g.marked || decisions.get(entry)!.action !== 'delete') continue;
          // A deleted entry that nobody marked: it must be past every window that applies.
          if (g.state === 'FAILED') {
            expect(g.age).toBeGreaterThan(policy.failedDays * DAY);
            continue;
          }
          const windowOf = windowDays(policy, g.tier);
          if (windowOf !== undefined) expect(g.age).toBeGreaterThan(windowOf * DAY);
          else expect(g.expiresIn).not.toBeNull(); // manual / pre-migration: only through an expiry
          if (g.expiresIn !== null) expect(g.expiresIn).toBeLessThan(0);
        }
      }),
      RUNS,
    );
  });

  it('finishes only the deletions an earlier run marked', () => {
    fc.assert(
      fc.property(scenarioArb, ([cases, policy]) => {
        const decisions = plan(cases, policy);
        return cases.every(({ generated, entry }) => decisions.get(entry)!.rule !== 'FINISH_DELETION' || generated.marked);
      }),
      RUNS,
    );
  });

  it('is deterministic: the same catalog in any order gives the same plan', () => {
    const arb = scenarioArb.chain(([cases, policy]) => fc.tuple(fc.constant(cases), fc.shuffledSubarray(cases, { minLength: cases.length, maxLength: cases.length }), fc.constant(policy)));
    fc.assert(
      fc.property(arb, ([cases, shuffled, policy]) => {
        const first = planRetention({ backups: cases.map((c) => c.entry) }, policy, NOW);
        const second = planRetention({ backups: shuffled.map((c) => c.entry) }, policy, NOW);
        const copied = planRetention({ backups: structuredClone(cases.map((c) => c.entry)).reverse() }, policy, NOW);
        expect(second).toEqual(first);
        expect(copied).toEqual(first);
      }),
      RUNS,
    );
  });

  it('never deletes more under a longer policy', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 0, max: 50 }), ([cases, policy], extra) => {
        const longer = parseRetentionPolicy({ ...policy, dailyDays: policy.dailyDays + extra, weeklyDays: policy.weeklyDays + extra, monthlyDays: policy.monthlyDays + extra, failedDays: policy.failedDays + extra });
        const deletedUnder = (p: RetentionPolicy) => new Set([...plan(cases, p).values()].filter((d) => d.action === 'delete').map((d) => d.id));
        const underShorter = deletedUnder(policy);
        return [...deletedUnder(longer)].every((id) => underShorter.has(id));
      }),
      RUNS,
    );
  });
});
