import { z } from 'zod';
import type { Alert } from '../../ports';

/**
 * An Alert as it travels as JSON (the SNS message body SnsAlertPublisher writes).
 * Unknown fields are ignored, so an older notifier reads a newer alert.
 */
export const alertSchema = z.object({
  type: z.string().min(1).max(100),
  severity: z.enum(['SEV1', 'SEV2', 'SEV3', 'SEV4']),
  message: z.string(),
  hint: z.string().optional(),
  database: z.string().optional(),
  backupId: z.string().optional(),
  code: z.string().optional(),
  at: z.string(),
  dedupeKey: z.string().optional(),
  suppressed: z.number().int().nonnegative().optional(),
});

/** Parses an alert's JSON; undefined when it is not JSON or not an alert. */
export function parseAlertJson(json: string): Alert | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  const result = alertSchema.safeParse(value);
  return result.success ? result.data : undefined;
}
