import type { Alert } from '../../ports';
import { commandsFor } from './commands';
import { alertTypeSpec } from './registry';

/**
 * An alert as a person reads it on a terminal (local mode's console when stderr is one):
 *
 *   ALERT SEV2 ARCHIVE_FAILING (WAL archiving is failing) database app
 *     WAL archiving of app is failing
 *     HINT: read the PostgreSQL log
 *     investigate: npx strongbox doctor --database app
 *
 * Every line but the first is indented, multi-line messages and hints included, so that an
 * alert never reads as two. Pure; ends with a newline.
 */
export function alertTerminalText(alert: Alert): string {
  const title = alertTypeSpec(alert.type)?.title;
  const about = [alert.database ? `database ${alert.database}` : '', alert.backupId ? `backup ${alert.backupId}` : ''].filter(Boolean).join(', ');
  const head = `ALERT ${alert.severity} ${alert.type}${title ? ` (${title})` : ''}${about ? ` ${about}` : ''}`;
  const body = [
    alert.message,
    alert.hint ? `HINT: ${alert.hint}` : '',
    alert.suppressed ? `(${alert.suppressed} identical alert${alert.suppressed === 1 ? '' : 's'} suppressed before this one)` : '',
    ...commandsFor(alert, { mode: 'local' }).map((c) => `${c.label}: ${c.command}`),
  ].filter(Boolean);
  return `${[head, ...body.flatMap((text) => text.split(/\r?\n/)).map((line) => `  ${line}`)].join('\n')}\n`;
}
