import { describe, expect, it } from 'vitest';
import { commandsFor } from '../../../../shared/domain/alerts/commands';
import { escapeMrkdwn, slackMessage } from '../../../../shared/domain/alerts/slack-message';
import type { Alert } from '../../../../shared/ports';

const BACKUP_FAILED: Alert = {
  type: 'BACKUP_FAILED',
  severity: 'SEV2',
  message: 'backup 20261124T030000Z-l-1a2b3c of database app failed: pg_dump exited with 1 <"relation" missing>',
  hint: 'check the database & run it again',
  database: 'app',
  backupId: '20261124T030000Z-l-1a2b3c',
  code: 'DUMP_FAILED',
  at: '2026-11-24T03:04:12.345Z',
};

describe('Slack message', () => {
  it('is exactly this Block Kit document for a failed backup in AWS', () => {
    expect(slackMessage({ ...BACKUP_FAILED, suppressed: 4 }, { mode: 'aws', stage: 'prod' })).toEqual({
      text: '[SEV2] Backup failed (app): backup 20261124T030000Z-l-1a2b3c of database app failed: pg_dump exited with 1 <"relation" missing>',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: ':red_circle: SEV2 · Backup failed (app)', emoji: true } },
        { type: 'section', text: { type: 'mrkdwn', text: 'backup 20261124T030000Z-l-1a2b3c of database app failed: pg_dump exited with 1 &lt;"relation" missing&gt;' } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Type*\nBACKUP_FAILED' },
            { type: 'mrkdwn', text: '*Severity*\nSEV2' },
            { type: 'mrkdwn', text: '*Database*\napp' },
            { type: 'mrkdwn', text: '*Backup*\n20261124T030000Z-l-1a2b3c' },
            { type: 'mrkdwn', text: '*Time*\n2026-11-24 03:04:12 UTC' },
            { type: 'mrkdwn', text: '*Code*\nDUMP_FAILED' },
          ],
        },
        { type: 'section', text: { type: 'mrkdwn', text: '*What to do:* check the database &amp; run it again' } },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text:
              '*Investigate*\n```npx strongbox list --database app```\n' +
              '*Investigate*\n```aws logs tail /strongbox/prod/dump --since 2h```\n' +
              '*Retry*\n```npx sls invoke --stage prod -f scheduleBackup --data \'{"database":"app"}\'```',
          },
        },
        { type: 'context', elements: [{ type: 'mrkdwn', text: 'Strongbox · stage prod · 4 identical alert(s) suppressed since the last message' }] },
      ],
    });
  });

  it('leaves out what the alert does not have, and says local mode', () => {
    const message = slackMessage({ type: 'MANIFEST_INVALID', severity: 'SEV2', message: 'manifest x is invalid', code: 'MANIFEST_INVALID', at: 'not a time' }, { mode: 'local' });
    expect(message.blocks[2]).toEqual({ type: 'section', fields: [{ type: 'mrkdwn', text: '*Type*\nMANIFEST_INVALID' }, { type: 'mrkdwn', text: '*Severity*\nSEV2' }, { type: 'mrkdwn', text: '*Time*\nnot a time' }] });
    expect(message.blocks.some((block) => 'text' in block && block.text.text.startsWith('*What to do:*'))).toBe(false);
    expect(message.blocks.at(-1)).toEqual({ type: 'context', elements: [{ type: 'mrkdwn', text: 'Strongbox · local mode' }] });
  });

  it('keeps within Slack\'s limits (header 150, section 3000 characters)', () => {
    const long = slackMessage({ ...BACKUP_FAILED, database: 'd'.repeat(200), message: 'x'.repeat(5000) }, { mode: 'local' });
    const header = long.blocks[0] as { text: { text: string } };
    const section = long.blocks[1] as { text: { text: string } };
    expect(header.text.text.length).toBe(150);
    expect(section.text.text.length).toBe(3000);
    expect(section.text.text.endsWith('…')).toBe(true);
    expect(long.text.length).toBeLessThanOrEqual(3000);
  });

  it('escapes exactly &, < and > (Slack would otherwise read links and mentions)', () => {
    expect(escapeMrkdwn('<!channel> a & b > c')).toBe('&lt;!channel&gt; a &amp; b &gt; c');
  });
});

describe('suggested commands', () => {
  const base = { severity: 'SEV2' as const, message: 'm', at: '2026-11-24T03:00:00Z' };
  it.each([
    ['WAL gap, local', { ...base, type: 'WAL_GAP', database: 'app' }, { mode: 'local' as const }, ['npx strongbox doctor --database app', 'npx strongbox backup --type base --database app']],
    [
      'WAL gap, AWS',
      { ...base, type: 'WAL_GAP', database: 'app' },
      { mode: 'aws' as const, stage: 'prod' },
      ['npx strongbox doctor --database app', `npx sls invoke --stage prod -f walCheckpoint --data '{"database":"app"}'`, `npx sls invoke --stage prod -f scheduleBackup --data '{"database":"app","type":"base"}'`],
    ],
    ['retention', { ...base, type: 'RETENTION_FAILED', database: 'app' }, { mode: 'local' as const }, ['npx strongbox retention plan --database app', 'npx strongbox retention apply --database app']],
    ['validation of one backup', { ...base, type: 'VALIDATION_FAILED', database: 'app', backupId: 'b-1' }, { mode: 'local' as const }, ['npx strongbox list --database app', 'npx strongbox validate b-1']],
    ['a name a shell would interpret is left out', { ...base, type: 'BACKUP_FAILED', database: 'app; rm -rf /' }, { mode: 'local' as const }, ['npx strongbox list', 'npx strongbox backup']],
    ['AWS retry needs a database', { ...base, type: 'TASK_FAILED' }, { mode: 'aws' as const, stage: 'dev' }, ['npx strongbox list', 'aws logs tail /strongbox/dev/dump --since 2h']],
    ['unknown type', { ...base, type: 'NEW_THING', database: 'app' }, { mode: 'local' as const }, ['npx strongbox list --database app']],
  ])('%s', (_name, alert, target, expected) => {
    expect(commandsFor(alert, target).map((command) => command.command)).toEqual(expected);
  });
});
