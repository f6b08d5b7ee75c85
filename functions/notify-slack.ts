import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { z } from 'zod';
import { SlackWebhookClient } from '../shared/adapters/slack/webhook';
import { WebhookUrlSource } from '../shared/adapters/slack/webhook-url';
import type { CommandTarget } from '../shared/domain/alerts/commands';
import { alarmAlert } from '../shared/domain/alerts/cloudwatch-alarm';
import { parseAlertJson } from '../shared/domain/alerts/schema';
import { slackMessage } from '../shared/domain/alerts/slack-message';
import type { Alert, Clock, Log } from '../shared/ports';
import { lambdaHandler, lambdaLog, requiredEnv } from '../shared/runtime/lambda';

/**
 * Subscribed to the alerts topic: posts each alert to Slack (Block Kit), and each
 * CloudWatch alarm notification of the same topic as an alert too. The webhook URL
 * comes from SSM (SecureString) or Secrets Manager, named by STRONGBOX_SLACK_WEBHOOK_PARAMETER.
 *
 * Failure policy: Slack down, slow or refusing is retried inside the invocation (3
 * attempts with timeouts and backoff), then logged at ERROR and *not* thrown — a throw
 * would only make Lambda replay the whole event later (twice), or SNS keep redelivering,
 * while Slack is still down. A message that is not an alert is logged and dropped (a retry
 * cannot fix it). A parameter that does not exist means Slack is not configured: logged,
 * nothing sent. Only a parameter that exists but cannot be read (access denied, throttled)
 * throws ConfigError: Lambda's bounded retries may fix a throttle, and the Errors metric
 * shows a broken deployment.
 */
export interface NotifySlackDeps {
  /** The webhook URL; undefined when Slack is not configured. Throws ConfigError. */
  webhookUrl(): Promise<string | undefined>;
  client: SlackWebhookClient;
  target: CommandTarget;
  log: Log;
  clock: Clock;
}

/** What one invocation did. */
export interface NotifySlackResult {
  delivered: number;
  failed: number;
  skipped: number;
}

/** A CloudWatch alarm's notification (the alarms of deploy/alarms.yml notify the same topic). */
function alarmOf(message: string, now: Date): Alert | undefined {
  try {
    return alarmAlert(JSON.parse(message), now);
  } catch {
    return undefined;
  }
}

const snsEvent = z.object({ Records: z.array(z.looseObject({ Sns: z.looseObject({ Message: z.string(), MessageId: z.string().optional() }) })) });

/** The handler over its dependencies (tests give it a local receiver and a mocked SSM). */
export function notifySlackHandler(deps: NotifySlackDeps) {
  return async (event: unknown): Promise<NotifySlackResult> => {
    const result: NotifySlackResult = { delivered: 0, failed: 0, skipped: 0 };
    const parsed = snsEvent.safeParse(event);
    if (!parsed.success) {
      deps.log.error('notifySlack: not an SNS event, nothing sent', { issue: parsed.error.issues[0]?.message });
      return { ...result, skipped: 1 };
    }
    const alerts = parsed.data.Records.map((record) => ({ id: record.Sns.MessageId, alert: parseAlertJson(record.Sns.Message) ?? alarmOf(record.Sns.Message, deps.clock()) }));
    for (const { id } of alerts.filter((entry) => !entry.alert)) deps.log.error('notifySlack: SNS message is not an alert, dropped', { messageId: id });
    result.skipped = alerts.filter((entry) => !entry.alert).length;
    const valid = alerts.flatMap((entry) => (entry.alert ? [entry.alert] : []));
    if (valid.length === 0) return result;
    const url = await deps.webhookUrl();
    if (!url) {
      deps.log.warn('notifySlack: no Slack webhook configured, alert not posted', { types: valid.map((alert) => alert.type) });
      return { ...result, skipped: result.skipped + valid.length };
    }
    for (const alert of valid) {
      const outcome = await deps.client.post(url, slackMessage(alert, deps.target));
      if (outcome.delivered) {
        result.delivered++;
        deps.log.info('alert posted to Slack', { type: alert.type, database: alert.database, backupId: alert.backupId, attempts: outcome.attempts });
      } else {
        result.failed++;
        deps.log.error('alert not delivered to Slack', { type: alert.type, severity: alert.severity, database: alert.database, backupId: alert.backupId, attempts: outcome.attempts, reason: outcome.reason });
      }
    }
    return result;
  };
}

/** The function's dependencies in AWS (clients at module scope, values cached 5 minutes). */
export function notifySlackDeps(env: NodeJS.ProcessEnv, log: Log, clients?: { ssm: SSMClient; secrets: SecretsManagerClient }): NotifySlackDeps {
  const source = new WebhookUrlSource(requiredEnv(env, 'STRONGBOX_SLACK_WEBHOOK_PARAMETER'), {
    ssm: new SSMProvider({ awsSdkV3Client: clients?.ssm ?? new SSMClient({}) }),
    secrets: new SecretsProvider({ awsSdkV3Client: clients?.secrets ?? new SecretsManagerClient({}) }),
  });
  return { webhookUrl: () => source.get(), client: new SlackWebhookClient(log), target: { mode: 'aws', stage: env.STRONGBOX_STAGE ?? 'dev' }, log, clock: () => new Date() };
}

let deps: NotifySlackDeps | undefined;

export const handler = lambdaHandler('notifySlack', (event: unknown) => notifySlackHandler((deps ??= notifySlackDeps(process.env, lambdaLog)))(event));
