import type { Alert, Severity } from '../../ports';
import { boundAlert } from './bounded';
import { commandsFor, type CommandTarget, type SuggestedCommand } from './commands';
import { alertTypeSpec } from './registry';

/**
 * An alert as a Slack incoming-webhook message (Block Kit): what failed, its severity,
 * the database, the backup id, the time, what to do, and the commands to investigate or
 * retry. `text` is the notification fallback. Pure: the same alert gives the same JSON.
 */

/** A Block Kit text object. */
export interface SlackText {
  type: 'plain_text' | 'mrkdwn';
  text: string;
  emoji?: boolean;
}

/** The blocks this formatter produces. */
export type SlackBlock =
  | { type: 'header'; text: SlackText }
  | { type: 'section'; text: SlackText }
  | { type: 'section'; fields: SlackText[] }
  | { type: 'context'; elements: SlackText[] };

/** The body posted to the webhook. */
export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

const EMOJI: Record<Severity, string> = { SEV1: ':rotating_light:', SEV2: ':red_circle:', SEV3: ':large_orange_circle:', SEV4: ':large_yellow_circle:' };
const LABELS: Record<SuggestedCommand['label'], string> = { investigate: 'Investigate', retry: 'Retry', fix: 'Fix' };

/** Slack's limits: header 150 characters, section text 3000, a field 2000. */
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const FIELD_MAX = 2000;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Slack's mrkdwn needs only these three escaped; everything else is shown as is. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function mrkdwn(text: string, max = SECTION_MAX): SlackText {
  return { type: 'mrkdwn', text: clip(text, max) };
}

function field(label: string, value: string): SlackText {
  return mrkdwn(`*${label}*\n${escapeMrkdwn(value)}`, FIELD_MAX);
}

/** `2026-11-24T03:04:12.345Z` → `2026-11-24 03:04:12 UTC`; anything unparsable is shown as given. */
function humanTime(at: string): string {
  const ms = Date.parse(at);
  return Number.isNaN(ms) ? at : `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** The Block Kit message for `alert`; `target` decides the form of the suggested commands. */
export function slackMessage(raised: Alert, target: CommandTarget): SlackMessage {
  const alert = boundAlert(raised);
  const title = alertTypeSpec(alert.type)?.title ?? alert.type;
  const where = alert.database ? ` (${alert.database})` : '';
  const fields = [field('Type', alert.type), field('Severity', alert.severity)];
  if (alert.database) fields.push(field('Database', alert.database));
  if (alert.backupId) fields.push(field('Backup', alert.backupId));
  fields.push(field('Time', humanTime(alert.at)));
  if (alert.code && alert.code !== alert.type) fields.push(field('Code', alert.code));

  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(`${EMOJI[alert.severity]} ${alert.severity} · ${title}${where}`, HEADER_MAX), emoji: true } },
    { type: 'section', text: mrkdwn(escapeMrkdwn(alert.message)) },
    { type: 'section', fields },
  ];
  if (alert.hint) blocks.push({ type: 'section', text: mrkdwn(`*What to do:* ${escapeMrkdwn(alert.hint)}`) });
  const commands = commandsFor(alert, target);
  if (commands.length > 0) {
    blocks.push({ type: 'section', text: mrkdwn(commands.map((command) => `*${LABELS[command.label]}*\n\`\`\`${escapeMrkdwn(command.command)}\`\`\``).join('\n')) });
  }
  const context = [`Strongbox${target.mode === 'aws' ? ` · stage ${target.stage}` : ' · local mode'}`];
  if (alert.suppressed) context.push(`${alert.suppressed} identical alert(s) suppressed since the last message`);
  blocks.push({ type: 'context', elements: [mrkdwn(escapeMrkdwn(context.join(' · ')))] });

  return { text: clip(`[${alert.severity}] ${title}${where}: ${alert.message}`, SECTION_MAX), blocks };
}
