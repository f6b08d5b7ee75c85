import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SlackWebhookClient } from '../../shared/adapters/slack/webhook';
import { WebhookAlertPublisher } from '../../shared/adapters/slack/webhook-alerts';
import { slackMessage } from '../../shared/domain/alerts/slack-message';
import type { Alert } from '../../shared/ports';
import { captureLog } from '../support/stack';
import { startWebhookReceiver, type WebhookReceiver } from './slack-receiver';

let receiver: WebhookReceiver;
beforeEach(async () => {
  receiver = await startWebhookReceiver();
});
afterEach(async () => receiver?.stop());

const ALERT: Alert = { type: 'WAL_GAP', severity: 'SEV2', message: 'the WAL archive of app lacks 1 segment(s)', hint: 'take a new base backup now', database: 'app', code: 'WAL_GAP', at: '2026-11-24T03:15:00Z' };

/** Records the backoff delays instead of waiting them. */
function fastClient(log = captureLog(), options: { timeoutMs?: number; attempts?: number } = {}) {
  const delays: number[] = [];
  const client = new SlackWebhookClient(log, { timeoutMs: options.timeoutMs ?? 2_000, attempts: options.attempts ?? 3, backoffMs: 100, sleep: async (ms) => void delays.push(ms) });
  return { client, delays, log };
}

describe('SlackWebhookClient', () => {
  it('posts exactly the JSON given, as application/json, once', async () => {
    const { client } = fastClient();
    const body = slackMessage(ALERT, { mode: 'local' });

    const outcome = await client.post(receiver.url, body);

    expect(outcome).toEqual({ delivered: true, attempts: 1, status: 200 });
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]).toMatchObject({ method: 'POST', path: '/services/T000/B000/secret-token', headers: expect.objectContaining({ 'content-type': 'application/json' }) });
    expect(JSON.parse(receiver.requests[0]!.body)).toEqual(body);
  });

  it('retries a slow receiver after each timeout with growing backoff, then delivers', async () => {
    receiver.script({ delayMs: 1_500 }, { delayMs: 1_500 });
    const { client, delays, log } = fastClient(captureLog(), { timeoutMs: 300 });

    const outcome = await client.post(receiver.url, { text: 'hi' });

    expect(outcome).toEqual({ delivered: true, attempts: 3, status: 200 });
    expect(receiver.requests).toHaveLength(3);
    expect(delays).toEqual([100, 200]);
    expect(log.lines.filter((line) => line.message === 'slack webhook attempt failed').map((line) => line.attributes?.reason)).toEqual(['no answer within 300 ms', 'no answer within 300 ms']);
  });

  it('gives up after the last attempt on 500s, and logs the host but never the URL', async () => {
    receiver.script({ status: 500, body: 'internal_error' }, { status: 503 }, { status: 500, body: 'internal_error' });
    const { client, delays, log } = fastClient();

    const outcome = await client.post(receiver.url, { text: 'hi' });

    expect(outcome).toEqual({ delivered: false, attempts: 3, reason: 'HTTP 500: internal_error' });
    expect(receiver.requests).toHaveLength(3);
    expect(delays).toEqual([100, 200]);
    expect(log.lines.at(-1)).toMatchObject({ level: 'WARN', attributes: { host: new URL(receiver.url).host, attempt: 3, final: true } });
    expect(JSON.stringify(log.lines)).not.toContain('secret-token');
  });

  it('does not retry what cannot succeed later (400 invalid_payload, 404 no_service)', async () => {
    receiver.script({ status: 400, body: 'invalid_payload' });
    const { client, delays } = fastClient();
    expect(await client.post(receiver.url, {})).toEqual({ delivered: false, attempts: 1, reason: 'HTTP 400: invalid_payload' });
    receiver.script({ status: 404, body: 'no_service' });
    expect(await client.post(receiver.url, {})).toEqual({ delivered: false, attempts: 1, reason: 'HTTP 404: no_service' });
    expect(delays).toEqual([]);
  });

  it('waits as long as a 429 Retry-After says (within the cap)', async () => {
    receiver.script({ status: 429, headers: { 'retry-after': '2' } });
    const { client, delays } = fastClient();
    expect(await client.post(receiver.url, {})).toMatchObject({ delivered: true, attempts: 2 });
    expect(delays).toEqual([2_000]);
  });

  it('retries a refused connection, then reports it', async () => {
    const url = receiver.url;
    await receiver.stop();
    const { client } = fastClient(captureLog(), { attempts: 2 });
    expect(await client.post(url, {})).toEqual({ delivered: false, attempts: 2, reason: 'request failed: ECONNREFUSED' });
  });
});

describe('WebhookAlertPublisher', () => {
  it('posts the Block Kit message of the alert', async () => {
    const log = captureLog();
    await new WebhookAlertPublisher(fastClient(log).client, receiver.url, log).publish(ALERT);
    expect(JSON.parse(receiver.requests[0]!.body)).toEqual(slackMessage(ALERT, { mode: 'local' }));
    expect(log.lines.filter((line) => line.level === 'ERROR')).toEqual([]);
  });

  it('never throws: an undelivered alert is an ERROR line naming the alert', async () => {
    receiver.script({ status: 500, body: '' }, { status: 500, body: '' }, { status: 500, body: '' });
    const log = captureLog();
    await expect(new WebhookAlertPublisher(fastClient(log).client, receiver.url, log).publish(ALERT)).resolves.toBeUndefined();
    expect(log.lines.at(-1)).toEqual({
      level: 'ERROR',
      message: 'alert not delivered to the Slack webhook',
      attributes: { type: 'WAL_GAP', database: 'app', backupId: undefined, reason: 'alert WAL_GAP not delivered to the Slack webhook after 3 attempt(s): HTTP 500' },
    });
  });

  it('send() throws ALERT_NOT_SENT when the webhook refuses', async () => {
    receiver.script({ status: 404, body: 'no_service' });
    const log = captureLog();
    await expect(new WebhookAlertPublisher(fastClient(log).client, receiver.url, log).send(ALERT)).rejects.toMatchObject({ code: 'ALERT_NOT_SENT', message: expect.stringContaining('HTTP 404: no_service') });
  });
});
