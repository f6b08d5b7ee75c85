import type { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { ConfigError } from '../../errors';

/**
 * Where the Slack webhook URL is kept in AWS: an SSM SecureString parameter (a name such
 * as `/strongbox/prod/slack-webhook`, or its ARN) or a Secrets Manager secret (its ARN;
 * the secret string is the URL, or JSON with a `url` field). The environment holds only
 * this reference, never the URL. Values are cached by Powertools for `maxAgeSeconds`.
 */
export class WebhookUrlSource {
  constructor(
    private readonly reference: string,
    private readonly providers: { ssm: SSMProvider; secrets: SecretsProvider },
    private readonly maxAgeSeconds = 300,
  ) {}

  /** True when the reference names a Secrets Manager secret. */
  get isSecret(): boolean {
    return /^arn:[^:]+:secretsmanager:/.test(this.reference);
  }

  /**
   * The webhook URL, or undefined when the parameter or secret does not exist (Slack is
   * not configured). Throws ConfigError when it cannot be read (access denied, throttled)
   * or does not hold an https URL (the message names the reference, never the value).
   */
  async get(): Promise<string | undefined> {
    let raw: string | Uint8Array | undefined;
    try {
      raw = this.isSecret
        ? await this.providers.secrets.get(this.reference, { maxAge: this.maxAgeSeconds })
        : await this.providers.ssm.get(this.reference, { decrypt: true, maxAge: this.maxAgeSeconds });
    } catch (error) {
      if (NOT_FOUND.has((error as { cause?: { name?: string } }).cause?.name ?? '')) return undefined;
      throw new ConfigError(
        `cannot read the Slack webhook URL from ${this.isSecret ? 'secret' : 'SSM parameter'} ${this.reference}: ${(error as Error).message}`,
        'create it (aws ssm put-parameter --type SecureString …, see docs/alerts.md) and check that the notifySlack role may read it',
        { cause: error },
      );
    }
    const url = urlIn(raw instanceof Uint8Array ? Buffer.from(raw).toString('utf8') : raw);
    if (!url) {
      throw new ConfigError(
        `${this.reference} does not hold an https URL for the Slack webhook`,
        'store the incoming webhook URL (https://hooks.slack.com/services/…) as the value, or JSON {"url": "…"} in a secret',
      );
    }
    return url;
  }
}

/** The SDK errors that mean "no such parameter / secret" (Powertools keeps them as the cause). */
const NOT_FOUND = new Set(['ParameterNotFound', 'ResourceNotFoundException']);

function urlIn(raw: string | undefined): string | undefined {
  const value = raw?.trim();
  if (!value) return undefined;
  let candidate: unknown = value;
  if (value.startsWith('{')) {
    try {
      candidate = (JSON.parse(value) as { url?: unknown }).url;
    } catch {
      return undefined;
    }
  }
  if (typeof candidate !== 'string') return undefined;
  try {
    return new URL(candidate).protocol === 'https:' ? candidate : undefined;
  } catch {
    return undefined;
  }
}
