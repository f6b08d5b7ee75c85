import type { Alert } from '../../ports';

/**
 * Every alert and message stays within the limits of where it goes: SNS takes 256 KB per
 * message (attributes included), Slack 3,000 characters per section, a log line should be
 * readable. Producers summarise lists with `summarise` (count, the first few, "and M more",
 * where the rest is); every sender passes the alert through `boundAlert` before it leaves,
 * so an unbounded producer cannot lose an alert to a refused publish. Pure.
 */

/** UTF-8 bytes each part of an alert may take (JSON escaping at most sextuples them: < 256 KB). */
export const ALERT_LIMITS = {
  /** The message: a summary, never a full list. */
  messageBytes: 16_384,
  hintBytes: 2_048,
  /** type, database, backupId, code, dedupeKey, at. */
  fieldBytes: 512,
} as const;

/** SNS's limit for one message, body and attributes together. */
export const SNS_MESSAGE_MAX_BYTES = 262_144;

/** How many items a summary names before "and M more". */
export const SUMMARY_ITEMS = 10;

const encoder = new TextEncoder();

/** The UTF-8 length of `text`. */
export function byteLength(text: string): number {
  return encoder.encode(text).length;
}

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes, never inside a character, with `tail(n)`
 * appended when something was cut (n: the bytes left out). The tail counts in the budget.
 */
export function clipBytes(text: string, maxBytes: number, tail: (omitted: number) => string = (omitted) => `… [${omitted} more bytes]`): string {
  const total = byteLength(text);
  if (total <= maxBytes) return text;
  // The tail's own length depends on the number it names: reserve room for the longest.
  const room = Math.max(0, maxBytes - byteLength(tail(total)));
  let used = 0;
  let end = 0;
  for (const char of text) {
    const size = byteLength(char);
    if (used + size > room) break;
    used += size;
    end += char.length;
  }
  return `${text.slice(0, end)}${tail(total - used)}`;
}

export interface SummaryOptions {
  /** How many items to name (default SUMMARY_ITEMS). */
  max?: number;
  /** Between items (default "; "). */
  separator?: string;
  /** Where the full list is, said after "and M more" (e.g. "in the function's log"). */
  rest?: string;
}

/**
 * A bounded list: every item when there are at most `max`, else the first `max` and
 * "… and M more (<rest>)". Each item is clipped to 512 bytes so one huge item cannot blow it up.
 */
export function summarise(items: readonly string[], options: SummaryOptions = {}): string {
  const max = options.max ?? SUMMARY_ITEMS;
  const separator = options.separator ?? '; ';
  const shown = items.slice(0, max).map((item) => clipBytes(item, ALERT_LIMITS.fieldBytes));
  const more = items.length - shown.length;
  if (more <= 0) return shown.join(separator);
  return `${shown.join(separator)}${separator}… and ${more} more${options.rest ? ` (${options.rest})` : ''}`;
}

const clipped = (omitted: number) => `… [${omitted} more bytes cut: the full text is in the log of what raised it]`;

/**
 * The alert with each part within ALERT_LIMITS (the same object when it already is), so
 * that its JSON stays far below SNS's 256 KB whatever a producer wrote.
 */
export function boundAlert(alert: Alert): Alert {
  const field = (value: string) => clipBytes(value, ALERT_LIMITS.fieldBytes, () => '…');
  const bounded: Alert = {
    ...alert,
    type: field(alert.type),
    message: clipBytes(alert.message, ALERT_LIMITS.messageBytes, clipped),
    at: field(alert.at),
    ...(alert.hint !== undefined ? { hint: clipBytes(alert.hint, ALERT_LIMITS.hintBytes, clipped) } : {}),
    ...(alert.database !== undefined ? { database: field(alert.database) } : {}),
    ...(alert.backupId !== undefined ? { backupId: field(alert.backupId) } : {}),
    ...(alert.code !== undefined ? { code: field(alert.code) } : {}),
    ...(alert.dedupeKey !== undefined ? { dedupeKey: field(alert.dedupeKey) } : {}),
  };
  const same = (Object.keys(bounded) as Array<keyof Alert>).every((key) => bounded[key] === alert[key]);
  return same ? alert : bounded;
}
