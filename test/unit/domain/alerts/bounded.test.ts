import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALERT_LIMITS, boundAlert, byteLength, clipBytes, summarise } from '../../../../shared/domain/alerts/bounded';
import type { Alert } from '../../../../shared/ports';

const tail = (omitted: number) => `… [${omitted} more bytes]`;

describe('clipBytes', () => {
  it('keeps a text within the budget as it is', () => {
    expect(clipBytes('héllo', 6)).toBe('héllo');
  });

  it('cuts to the budget, never inside a character, and says how much it left out (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 400 }), fc.integer({ min: 40, max: 300 }), (text, max) => {
        const clipped = clipBytes(text, max, tail);
        if (byteLength(text) <= max) return clipped === text;
        const match = /… \[(\d+) more bytes\]$/.exec(clipped);
        const kept = clipped.slice(0, match!.index);
        return byteLength(clipped) <= max && text.startsWith(kept) && Number(match![1]) === byteLength(text) - byteLength(kept);
      }),
    );
  });
});

describe('summarise', () => {
  it('names every item up to the limit, then the first ones and how many more, and where they are', () => {
    expect(summarise(['a', 'b'], { max: 2 })).toBe('a; b');
    expect(summarise(['a', 'b', 'c', 'd'], { max: 2, rest: 'see the log' })).toBe('a; b; … and 2 more (see the log)');
    expect(summarise(Array.from({ length: 1000 }, (_, i) => `item-${i}`)).split('; ')).toHaveLength(11);
  });

  it('clips one huge item instead of carrying it whole', () => {
    expect(byteLength(summarise(['x'.repeat(100_000)]))).toBeLessThanOrEqual(ALERT_LIMITS.fieldBytes);
  });
});

describe('boundAlert', () => {
  const alert: Alert = { type: 'RETENTION_FAILED', severity: 'SEV3', message: 'm', at: '2026-12-04T03:00:00Z', database: 'app' };

  it('returns a small alert itself', () => {
    expect(boundAlert(alert)).toBe(alert);
  });

  it('bounds every part, and the whole far below SNS\'s 256 KB', () => {
    const huge = '\u0001"é'.repeat(200_000);
    const bounded = boundAlert({ ...alert, message: huge, hint: huge, database: huge, backupId: huge, code: huge, dedupeKey: huge });
    expect(byteLength(bounded.message)).toBeLessThanOrEqual(ALERT_LIMITS.messageBytes);
    expect(byteLength(bounded.hint!)).toBeLessThanOrEqual(ALERT_LIMITS.hintBytes);
    for (const field of [bounded.database, bounded.backupId, bounded.code, bounded.dedupeKey]) expect(byteLength(field!)).toBeLessThanOrEqual(ALERT_LIMITS.fieldBytes);
    expect(byteLength(JSON.stringify(bounded))).toBeLessThan(200_000);
  });
});
