import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConsoleAlertPublisher } from '../../shared/adapters/sns/console-alerts';
import { slackMessage } from '../../shared/domain/alerts/slack-message';
import { localAlerts, openLocalContext } from '../../shared/local/context';
import { resolveHome } from '../../shared/local/home';
import type { Alert } from '../../shared/ports';
import { captureLog } from '../support/stack';
import { startWebhookReceiver, type WebhookReceiver } from './slack-receiver';

let receiver: WebhookReceiver;
beforeEach(async () => {
  receiver = await startWebhookReceiver();
});
afterEach(async () => receiver?.stop());

const ALERT: Alert = { type: 'ARCHIVE_FAILING', severity: 'SEV2', message: 'WAL archiving of app is failing', hint: 'read the PostgreSQL log', database: 'app', code: 'ARCHIVE_FAILING', at: '2026-11-24T03:30:00Z' };

function consoleLines() {
  const lines: string[] = [];
  return { lines, console: new ConsoleAlertPublisher((line) => void lines.push(line)) };
}

describe('local mode alerts', () => {
  it('without a webhook: the console only', async () => {
    const { lines, console } = consoleLines();
    const alerts = localAlerts({ env: {}, log: captureLog(), console });
    expect(alerts).toBe(console);
    await alerts.publish(ALERT);
    expect(lines).toEqual([`ALERT ${JSON.stringify(ALERT)}\n`]);
  });

  it('STRONGBOX_SLACK_WEBHOOK_URL: every alert on the console, the Slack message once per window', async () => {
    const { lines, console } = consoleLines();
    const alerts = localAlerts({ env: { STRONGBOX_SLACK_WEBHOOK_URL: receiver.url }, log: captureLog(), console, clock: () => new Date('2026-11-24T03:30:00Z') });

    for (let i = 0; i < 3; i++) await alerts.publish(ALERT);

    expect(lines).toHaveLength(3);
    expect(receiver.requests).toHaveLength(1);
    expect(JSON.parse(receiver.requests[0]!.body)).toEqual(slackMessage({ ...ALERT, dedupeKey: 'ARCHIVE_FAILING#app' }, { mode: 'local' }));
  });

  it("the config file's alerts.webhookUrl, overridden by the environment", async () => {
    const other = await startWebhookReceiver();
    try {
      await localAlerts({ env: {}, log: captureLog(), config: { webhookUrl: receiver.url }, console: consoleLines().console }).publish(ALERT);
      await localAlerts({ env: { STRONGBOX_SLACK_WEBHOOK_URL: other.url }, log: captureLog(), config: { webhookUrl: receiver.url }, console: consoleLines().console }).publish(ALERT);
      expect(receiver.requests).toHaveLength(1);
      expect(other.requests).toHaveLength(1);
    } finally {
      await other.stop();
    }
  });

  it('a webhook that fails never keeps the alert from the console, nor throws', async () => {
    receiver.script({ status: 500 }, { status: 500 }, { status: 500 });
    const { lines, console } = consoleLines();
    const log = captureLog();
    const alerts = localAlerts({ env: { STRONGBOX_SLACK_WEBHOOK_URL: receiver.url }, log, console });
    await expect(alerts.publish(ALERT)).resolves.toBeUndefined();
    expect(lines).toHaveLength(1);
    expect(log.lines.filter((line) => line.level === 'ERROR').map((line) => line.message)).toEqual(['alert could not be sent']);
  }, 20_000);

  it('refuses a variable that is not an http(s) URL with CONFIG_INVALID', () => {
    expect(() => localAlerts({ env: { STRONGBOX_SLACK_WEBHOOK_URL: 'hooks.slack.com/x' }, log: captureLog() })).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('openLocalContext wires it: an alert of the context reaches the webhook', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strongbox-alerts-'));
    const env = { STRONGBOX_HOME: join(dir, 'home') };
    const context = await openLocalContext({ paths: resolveHome(env, dir), storage: { type: 'folder' }, env, log: captureLog(), alertsConfig: { webhookUrl: receiver.url } });
    try {
      await context.alerts.publish(ALERT);
      expect(receiver.requests).toHaveLength(1);
    } finally {
      await context.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
