import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config';

describe('strongbox.config.json', () => {
  it('fills in the defaults: no databases, folder storage, the serverless.yml schedules', () => {
    expect(parseConfig({}, 'f')).toEqual({
      databases: [],
      storage: { type: 'folder' },
      heartbeatSeconds: 30,
      staleAfterSeconds: 600,
      verifyWithinSeconds: 3600,
      stopWaitSeconds: 600,
      watchdogSchedule: 'rate(15 minutes)',
    });
    expect(parseConfig({ databases: [{ name: 'app' }] }, 'f').databases[0]).toEqual({
      name: 'app',
      schedule: 'cron(0 3 * * ? *)',
      compression: 'gzip',
      includeRolePasswords: false,
    });
  });

  it('accepts a Slack-compatible webhook for local alerts (optional, no default)', () => {
    expect(parseConfig({ alerts: { webhookUrl: 'https://hooks.slack.com/services/T0/B0/x' } }, 'f').alerts).toEqual({ webhookUrl: 'https://hooks.slack.com/services/T0/B0/x' });
    expect(parseConfig({ alerts: { webhookUrl: 'http://127.0.0.1:9000/hook' } }, 'f').alerts).toEqual({ webhookUrl: 'http://127.0.0.1:9000/hook' });
    expect(parseConfig({ alerts: {} }, 'f').alerts).toEqual({});
  });

  it.each([
    ['a password in a URL', { databases: [{ name: 'app', url: 'postgresql://u:secret@h/app' }] }, /contains a password/],
    ['the same name twice', { databases: [{ name: 'app' }, { name: 'app' }] }, /listed twice/],
    ['a name that cannot be a path segment', { databases: [{ name: '../x' }] }, /not allowed/],
    ['an unknown storage type', { storage: { type: 'ftp' } }, /storage/],
    ['an absurd heartbeat', { heartbeatSeconds: -5 }, /heartbeatSeconds/],
    ['a wrong compression', { databases: [{ name: 'app', compression: 'lz4' }] }, /compression/],
    ['an alerts webhook that is not a URL', { alerts: { webhookUrl: 'hooks.slack.com/x' } }, /alerts\.webhookUrl/],
    ['an alerts webhook that is not http(s)', { alerts: { webhookUrl: 'ftp://hooks.example/x' } }, /alerts\.webhookUrl/],
  ])('refuses %s with CONFIG_INVALID naming the file', (_name, json, message) => {
    expect(() => parseConfig(json, '/etc/strongbox.config.json')).toThrowError(message);
    expect(() => parseConfig(json, '/etc/strongbox.config.json')).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('/etc/strongbox.config.json') }));
  });
});
