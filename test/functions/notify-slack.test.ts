import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { notifySlackDeps, notifySlackHandler, type NotifySlackDeps } from '../../functions/notify-slack';
import { SlackWebhookClient } from '../../shared/adapters/slack/webhook';
import { WebhookUrlSource } from '../../shared/adapters/slack/webhook-url';
import { slackMessage } from '../../shared/domain/alerts/slack-message';
import type { Alert } from '../../shared/ports';
import { startWebhookReceiver, type WebhookReceiver } from '../adapters/slack-receiver';
import { captureLog, type CapturedLog } from '../support/stack';

const ssmMock = mockClient(SSMClient);
const PARAMETER = '/strongbox/prod/slack-webhook';
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:strongbox-prod-alerts';

const ALERT: Alert = {
  type: 'CHECKSUM_MISMATCH',
  severity: 'SEV2',
  message: 'backup 20261124T030000Z-l-1a2b3c of database app failed verification: object has SHA-256 ab…, but its manifest declares cd…',
  hint: 'the stored copy is damaged: take a new backup now and keep this one for investigation',
  database: 'app',
  backupId: '20261124T030000Z-l-1a2b3c',
  code: 'CHECKSUM_MISMATCH',
  at: '2026-11-24T03:07:41.002Z',
  dedupeKey: 'backup#20261124T030000Z-l-1a2b3c',
};

/** The event SNS hands a Lambda subscriber (one record per invocation). */
function snsEvent(...messages: string[]) {
  return {
    Records: messages.map((message, index) => ({
      EventSource: 'aws:sns',
      EventVersion: '1.0',
      EventSubscriptionArn: `${TOPIC}:6f1c0a5e-1111-2222-3333-444455556666`,
      Sns: {
        Type: 'Notification',
        MessageId: `95df01b4-ee98-5cb9-9903-4c221d41eb5${index}`,
        TopicArn: TOPIC,
        Subject: '[SEV2] Strongbox CHECKSUM_MISMATCH (app)',
        Message: message,
        Timestamp: '2026-11-24T03:07:41.120Z',
        MessageAttributes: { type: { Type: 'String', Value: 'CHECKSUM_MISMATCH' }, severity: { Type: 'String', Value: 'SEV2' } },
      },
    })),
  };
}

let receiver: WebhookReceiver;
let log: CapturedLog;
let delays: number[];

/** The function's real wiring (SSM through Powertools, the real client), with quick retries. */
function deps(): NotifySlackDeps {
  const urls = new WebhookUrlSource(PARAMETER, {
    ssm: new SSMProvider({ awsSdkV3Client: new SSMClient({ region: 'eu-west-1' }) }),
    secrets: new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient({ region: 'eu-west-1' }) }),
  });
  return { webhookUrl: () => urls.get(), client: new SlackWebhookClient(log, { timeoutMs: 300, backoffMs: 50, sleep: async (ms) => void delays.push(ms) }), target: { mode: 'aws', stage: 'prod' }, log, clock: () => new Date('2026-11-24T03:08:00Z') };
}

beforeEach(async () => {
  ssmMock.reset();
  receiver = await startWebhookReceiver();
  log = captureLog();
  delays = [];
  ssmMock.on(GetParameterCommand).resolves({ Parameter: { Name: PARAMETER, Type: 'SecureString', Value: receiver.url.replace('http:', 'https:') } });
});
afterEach(async () => receiver?.stop());

describe('notifySlack function', () => {
  it('reads the webhook from SSM with decryption and posts the Block Kit message', async () => {
    // The SSM value must be https; the test receiver speaks http on loopback, so the client sees the same URL over http.
    const handler = notifySlackHandler({ ...deps(), webhookUrl: async () => ((await deps().webhookUrl()) ?? '').replace('https:', 'http:') });

    const result = await handler(snsEvent(JSON.stringify(ALERT)));

    expect(result).toEqual({ delivered: 1, failed: 0, skipped: 0 });
    expect(ssmMock.commandCalls(GetParameterCommand).map((call) => call.args[0].input)).toEqual([{ Name: PARAMETER, WithDecryption: true }]);
    expect(receiver.requests).toHaveLength(1);
    expect(JSON.parse(receiver.requests[0]!.body)).toEqual(slackMessage(ALERT, { mode: 'aws', stage: 'prod' }));
    expect(JSON.parse(receiver.requests[0]!.body).blocks[4].text.text).toContain("npx sls invoke --stage prod -f scheduleBackup --data '{\"database\":\"app\"}'");
    expect(log.lines).toContainEqual({ level: 'INFO', message: 'alert posted to Slack', attributes: { type: 'CHECKSUM_MISMATCH', database: 'app', backupId: ALERT.backupId, attempts: 1 } });
  });

  it('Slack answering 500: retried with backoff, then logged as failed — and the invocation succeeds (no SNS/Lambda redelivery)', async () => {
    receiver.script({ status: 500 }, { status: 500 }, { status: 500 });
    const handler = notifySlackHandler({ ...deps(), webhookUrl: async () => receiver.url });

    const result = await handler(snsEvent(JSON.stringify(ALERT)));

    expect(result).toEqual({ delivered: 0, failed: 1, skipped: 0 });
    expect(receiver.requests).toHaveLength(3);
    expect(delays).toEqual([50, 100]);
    expect(log.lines.at(-1)).toEqual({
      level: 'ERROR',
      message: 'alert not delivered to Slack',
      attributes: { type: 'CHECKSUM_MISMATCH', severity: 'SEV2', database: 'app', backupId: ALERT.backupId, attempts: 3, reason: 'HTTP 500: ok' },
    });
  });

  it('Slack too slow: each attempt times out, then logged as failed', async () => {
    receiver.script({ delayMs: 2_000 }, { delayMs: 2_000 }, { delayMs: 2_000 });
    const handler = notifySlackHandler({ ...deps(), webhookUrl: async () => receiver.url });
    const started = Date.now();

    expect(await handler(snsEvent(JSON.stringify(ALERT)))).toEqual({ delivered: 0, failed: 1, skipped: 0 });

    expect(Date.now() - started).toBeLessThan(1_800);
    expect(log.lines.at(-1)?.attributes).toMatchObject({ reason: 'no answer within 300 ms', attempts: 3 });
  });

  it('posts a CloudWatch alarm of the same topic as an alert with the alarm\'s severity, and its recovery', async () => {
    const alarm = {
      AlarmName: 'strongbox-prod-archive-lag-over-rpo',
      AlarmDescription: 'SEV2 - WAL archive lag over the RPO (300 s): a restore now would lose more than promised.',
      AWSAccountId: '123456789012',
      NewStateValue: 'ALARM',
      NewStateReason: 'Threshold Crossed: 1 datapoint [412.0 (24/11/26 03:00:00)] was greater than the threshold (300.0).',
      StateChangeTime: '2026-11-24T03:15:42.317+0000',
      Region: 'EU (Ireland)',
      OldStateValue: 'OK',
      Trigger: { MetricName: 'ArchiveLagSeconds', Namespace: 'Strongbox', Statistic: 'MAXIMUM', Period: 900, EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanThreshold', Threshold: 300 },
    };
    const handler = notifySlackHandler({ ...deps(), webhookUrl: async () => receiver.url });

    expect(await handler(snsEvent(JSON.stringify(alarm), JSON.stringify({ ...alarm, NewStateValue: 'OK', OldStateValue: 'ALARM' }), JSON.stringify({ ...alarm, NewStateValue: 'INSUFFICIENT_DATA' })))).toEqual({ delivered: 2, failed: 0, skipped: 1 });

    const fired = {
      type: 'CLOUDWATCH_ALARM',
      severity: 'SEV2',
      message: 'strongbox-prod-archive-lag-over-rpo: WAL archive lag over the RPO (300 s): a restore now would lose more than promised.',
      hint: `CloudWatch: ${alarm.NewStateReason}`,
      code: 'strongbox-prod-archive-lag-over-rpo',
      at: '2026-11-24T03:15:42.317Z',
    } as const;
    expect(JSON.parse(receiver.requests[0]!.body)).toEqual(slackMessage(fired, { mode: 'aws', stage: 'prod' }));
    expect(JSON.parse(receiver.requests[1]!.body).text).toBe(
      '[SEV4] CloudWatch alarm recovered: recovered: strongbox-prod-archive-lag-over-rpo is OK again (WAL archive lag over the RPO (300 s): a restore now would lose more than promised.)',
    );
  });

  it('drops a message that is not an alert, posting the valid ones', async () => {
    const handler = notifySlackHandler({ ...deps(), webhookUrl: async () => receiver.url });
    const result = await handler(snsEvent('not json', JSON.stringify({ type: 'X' }), JSON.stringify(ALERT)));
    expect(result).toEqual({ delivered: 1, failed: 0, skipped: 2 });
    expect(log.lines.filter((line) => line.message === 'notifySlack: SNS message is not an alert, dropped')).toHaveLength(2);
  });

  it('does not ask SSM when there is nothing to post, nor fail on a non-SNS event', async () => {
    const handler = notifySlackHandler(deps());
    expect(await handler({ hello: 'world' })).toEqual({ delivered: 0, failed: 0, skipped: 1 });
    expect(await handler(snsEvent('{}'))).toEqual({ delivered: 0, failed: 0, skipped: 1 });
    expect(ssmMock.calls()).toHaveLength(0);
  });

  it('posts nothing and succeeds when the parameter does not exist (Slack not configured)', async () => {
    ssmMock.reset();
    ssmMock.on(GetParameterCommand).rejects(new ParameterNotFound({ message: 'Parameter not found', $metadata: {} }));
    expect(await notifySlackHandler(deps())(snsEvent(JSON.stringify(ALERT)))).toEqual({ delivered: 0, failed: 0, skipped: 1 });
    expect(log.lines.at(-1)).toMatchObject({ level: 'WARN', message: 'notifySlack: no Slack webhook configured, alert not posted' });
    expect(receiver.requests).toEqual([]);
  });

  it('throws CONFIG_INVALID when the parameter exists but cannot be read (bounded Lambda retries, Errors metric)', async () => {
    ssmMock.reset();
    ssmMock.on(GetParameterCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    await expect(notifySlackHandler(deps())(snsEvent(JSON.stringify(ALERT)))).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('wires from the environment: only the parameter name is there, never the URL', async () => {
    const wired = notifySlackDeps({ STRONGBOX_SLACK_WEBHOOK_PARAMETER: PARAMETER, STRONGBOX_STAGE: 'prod' }, log);
    expect(wired.target).toEqual({ mode: 'aws', stage: 'prod' });
    expect(await wired.webhookUrl()).toBe(receiver.url.replace('http:', 'https:'));
    expect(ssmMock.commandCalls(GetParameterCommand)[0]!.args[0].input).toEqual({ Name: PARAMETER, WithDecryption: true });
    expect(() => notifySlackDeps({}, log)).toThrowError(/STRONGBOX_SLACK_WEBHOOK_PARAMETER/);
  });
});
