import { describe, expect, it } from 'vitest';
import { alarmAlert } from '../../../../shared/domain/alerts/cloudwatch-alarm';

const NOW = new Date('2026-11-24T04:00:00Z');

describe('CloudWatch alarm notifications as alerts', () => {
  it.each([
    ['a description without severity: SEV3, the description as message', { AlarmName: 'a', AlarmDescription: 'disk nearly full', NewStateValue: 'ALARM' }, { type: 'CLOUDWATCH_ALARM', severity: 'SEV3', message: 'a: disk nearly full', code: 'a', at: NOW.toISOString() }],
    ['no description at all: the name', { AlarmName: 'b', AlarmDescription: null, NewStateValue: 'ALARM', StateChangeTime: 'garbage' }, { type: 'CLOUDWATCH_ALARM', severity: 'SEV3', message: 'b: b', code: 'b', at: NOW.toISOString() }],
    ['SEV1 prefix', { AlarmName: 'c', AlarmDescription: 'SEV1 - all gone', NewStateValue: 'ALARM' }, { type: 'CLOUDWATCH_ALARM', severity: 'SEV1', message: 'c: all gone', code: 'c', at: NOW.toISOString() }],
  ])('%s', (_name, input, expected) => {
    expect(alarmAlert(input, NOW)).toEqual(expected);
  });

  it.each([
    ['an Alert', { type: 'WAL_GAP', severity: 'SEV2', message: 'm', at: 'x' }],
    ['INSUFFICIENT_DATA', { AlarmName: 'a', NewStateValue: 'INSUFFICIENT_DATA' }],
    ['a string', 'hello'],
    ['null', null],
  ])('nothing for %s', (_name, input) => {
    expect(alarmAlert(input, NOW)).toBeUndefined();
  });
});
