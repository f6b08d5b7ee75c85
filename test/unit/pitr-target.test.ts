import { describe, expect, it } from 'vitest';
import { describeTarget, parsePitrTarget, recoveryTargetSettings } from '../../shared/domain/wal/pitr-target';

describe('parsePitrTarget', () => {
  it('takes a time without a zone as UTC and says so', () => {
    const target = parsePitrTarget({ time: '2026-11-24 03:12:00' });

    expect(target).toEqual({ type: 'time', at: new Date('2026-11-24T03:12:00Z'), assumedUtc: true });
    expect(describeTarget(target)).toBe('time 2026-11-24T03:12:00.000Z (no zone given: UTC)');
  });

  it('honours an explicit zone', () => {
    expect(parsePitrTarget({ time: '2026-11-24T05:12:00+02:00' })).toEqual({ type: 'time', at: new Date('2026-11-24T03:12:00Z'), assumedUtc: false });
    expect(parsePitrTarget({ time: '2026-11-24T03:12:00.250Z' })).toMatchObject({ at: new Date('2026-11-24T03:12:00.250Z'), assumedUtc: false });
  });

  it.each([
    [{}, /no recovery target/],
    [{ time: '2026-11-24T00:00:00Z', latest: true }, /several recovery targets given [(]--time, --latest[)]/],
    [{ time: 'yesterday' }, /is not a time/],
    [{ time: '2026-13-45T99:00:00Z' }, /not a valid time/],
    [{ xid: 'abc' }, /not a transaction id/],
    [{ xid: '0' }, /not a transaction id/],
    [{ name: '' }, /1–63 bytes/],
    [{ name: 'x'.repeat(64) }, /1–63 bytes/],
  ])('refuses %j', (flags, message) => {
    expect(() => parsePitrTarget(flags)).toThrow(message);
  });

  it('refuses a malformed LSN with the BAD_LSN code', () => {
    expect(() => parsePitrTarget({ lsn: '0/XYZ' })).toThrow(expect.objectContaining({ code: 'BAD_LSN' }));
  });
});

describe('recoveryTargetSettings', () => {
  it('writes the time in UTC with an explicit zone, inclusive by default, then promote', () => {
    expect(recoveryTargetSettings(parsePitrTarget({ time: '2026-11-24T03:12:00.5Z' }), false)).toEqual({
      recovery_target_timeline: 'latest',
      recovery_target_time: '2026-11-24 03:12:00.500+00',
      recovery_target_inclusive: 'on',
      recovery_target_action: 'promote',
    });
  });

  it('stops before the target with exclusive', () => {
    expect(recoveryTargetSettings(parsePitrTarget({ lsn: '0/16b3748' }), true)).toMatchObject({ recovery_target_lsn: '0/16B3748', recovery_target_inclusive: 'off' });
    expect(recoveryTargetSettings(parsePitrTarget({ name: 'before-migration' }), false)).toMatchObject({ recovery_target_name: 'before-migration' });
    expect(recoveryTargetSettings(parsePitrTarget({ xid: '1234' }), false)).toMatchObject({ recovery_target_xid: '1234' });
  });

  it('sets no target for latest: recovery runs to the end of the archive and promotes', () => {
    expect(recoveryTargetSettings({ type: 'latest' }, false)).toEqual({ recovery_target_timeline: 'latest' });
  });
});
