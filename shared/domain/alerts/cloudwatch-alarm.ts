import { z } from 'zod';
import type { Alert, Severity } from '../../ports';

/**
 * CloudWatch alarms (deploy/alarms.yml) notify the same alerts topic with their own JSON,
 * not an Alert. Their description starts with the severity ("SEV2 - …"), by convention.
 * This turns such a notification into an Alert so that Slack shows it like the others:
 * CLOUDWATCH_ALARM when it fires, CLOUDWATCH_ALARM_OK (SEV4) when it recovers.
 */
const alarmSchema = z.looseObject({
  AlarmName: z.string().min(1),
  AlarmDescription: z.string().nullish(),
  NewStateValue: z.enum(['ALARM', 'OK', 'INSUFFICIENT_DATA']),
  NewStateReason: z.string().optional(),
  StateChangeTime: z.string().optional(),
});

function severityOf(description: string): Severity {
  const match = /^\s*(SEV[1-4])\b/.exec(description);
  return (match?.[1] as Severity | undefined) ?? 'SEV3';
}

function isoOr(time: string | undefined, fallback: Date): string {
  const ms = time === undefined ? Number.NaN : Date.parse(time);
  return Number.isNaN(ms) ? fallback.toISOString() : new Date(ms).toISOString();
}

/**
 * The Alert for a CloudWatch alarm notification, or undefined when `value` is not one or
 * reports INSUFFICIENT_DATA (nothing to act on). `now` stands in for a missing change time.
 */
export function alarmAlert(value: unknown, now: Date): Alert | undefined {
  const parsed = alarmSchema.safeParse(value);
  if (!parsed.success || parsed.data.NewStateValue === 'INSUFFICIENT_DATA') return undefined;
  const alarm = parsed.data;
  const description = alarm.AlarmDescription ?? '';
  const text = description.replace(/^\s*SEV[1-4]\s*-\s*/, '') || alarm.AlarmName;
  const at = isoOr(alarm.StateChangeTime, now);
  if (alarm.NewStateValue === 'OK') {
    return { type: 'CLOUDWATCH_ALARM_OK', severity: 'SEV4', message: `recovered: ${alarm.AlarmName} is OK again (${text})`, code: alarm.AlarmName, at };
  }
  return {
    type: 'CLOUDWATCH_ALARM',
    severity: severityOf(description),
    message: `${alarm.AlarmName}: ${text}`,
    ...(alarm.NewStateReason ? { hint: `CloudWatch: ${alarm.NewStateReason}` } : {}),
    code: alarm.AlarmName,
    at,
  };
}
