import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { WebhookUrlSource } from '../../shared/adapters/slack/webhook-url';
import { ConfigError } from '../../shared/errors';

const ssmMock = mockClient(SSMClient);
const secretsMock = mockClient(SecretsManagerClient);
const URL_VALUE = 'https://hooks.slack.com/services/T000/B000/XXXXXXXX';
const PARAMETER = '/strongbox/prod/slack-webhook';
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:strongbox/slack-AbCdEf';

function source(reference: string) {
  return new WebhookUrlSource(reference, {
    ssm: new SSMProvider({ awsSdkV3Client: new SSMClient({ region: 'eu-west-1' }) }),
    secrets: new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient({ region: 'eu-west-1' }) }),
  });
}

beforeEach(() => {
  ssmMock.reset();
  secretsMock.reset();
});

describe('WebhookUrlSource', () => {
  it('reads an SSM SecureString with decryption, once per cache period', async () => {
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Name: PARAMETER, Type: 'SecureString', Value: URL_VALUE } });
    const urls = source(PARAMETER);

    expect(await urls.get()).toBe(URL_VALUE);
    expect(await urls.get()).toBe(URL_VALUE);

    const calls = ssmMock.commandCalls(GetParameterCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toEqual({ Name: PARAMETER, WithDecryption: true });
    expect(secretsMock.calls()).toHaveLength(0);
  });

  it('reads a Secrets Manager secret by ARN (the URL, or JSON with url)', async () => {
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ url: URL_VALUE }) });
    expect(await source(SECRET).get()).toBe(URL_VALUE);
    expect(secretsMock.commandCalls(GetSecretValueCommand)[0]!.args[0].input).toEqual({ SecretId: SECRET });
    expect(ssmMock.calls()).toHaveLength(0);
  });

  it('answers undefined when the parameter or secret does not exist (Slack not configured)', async () => {
    ssmMock.on(GetParameterCommand).rejects(new ParameterNotFound({ message: 'not found', $metadata: {} }));
    secretsMock.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));
    expect(await source(PARAMETER).get()).toBeUndefined();
    expect(await source(SECRET).get()).toBeUndefined();
  });

  it('throws ConfigError naming the parameter when it cannot be read', async () => {
    const denied = Object.assign(new Error('User is not authorized to perform: ssm:GetParameter'), { name: 'AccessDeniedException' });
    ssmMock.on(GetParameterCommand).rejects(denied);
    await expect(source(PARAMETER).get()).rejects.toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(`SSM parameter ${PARAMETER}`) }));
  });

  it.each([['plain http', 'http://hooks.example/x'], ['not a URL', 'hello'], ['JSON without url', '{"webhook":1}'], ['empty', '  ']])('refuses a value that is %s, without echoing it', async (_name, value) => {
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Name: PARAMETER, Value: value } });
    const failure = await source(PARAMETER).get().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConfigError);
    if (value.trim()) expect((failure as Error).message).not.toContain(value);
  });
});
