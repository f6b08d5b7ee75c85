import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseValidatePayload } from '../../shared/domain/invoke/validate';
import { taskRestoreCommand } from '../../tasks/drill-wal';

describe('the physical drill through sls invoke -f validate', () => {
  it('takes {"pitr": true, "to": latest|random|id}; "to" without "pitr" is refused', () => {
    expect(parseValidatePayload({ pitr: true, to: 'random', database: 'app' })).toEqual({ backupId: 'latest', pitr: true, to: 'random', database: 'app' });
    expect(parseValidatePayload({ pitr: true })).toEqual({ backupId: 'latest', pitr: true });
    expect(() => parseValidatePayload({ to: 'random' })).toThrow(/"to" is for the physical drill/);
    expect(() => parseValidatePayload({ pitr: true, to: 'someday' })).toThrow();
  });

  it('the task writes a WAL host config signed by its role and fetches through wal.js; without the endpoint URL it says what to set', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sbx-drill-wal-'));
    try {
      const command = await taskRestoreCommand({ STRONGBOX_ARCHIVE_URL: 'https://abc.lambda-url.eu-west-1.on.aws/', AWS_REGION: 'eu-west-1' }, 'app', dir, '/app/dist/task-validate.js');
      const config = join(dir, 'strongbox-drill-wal', 'app', 'wal.json');
      expect(command).toMatch(/^'.*node.*' '.*wal\.js' wal-fetch %f %p --config '.*wal\.json'$/);
      expect(JSON.parse(await readFile(config, 'utf8'))).toEqual({ database: 'app', endpoint: 'https://abc.lambda-url.eu-west-1.on.aws/', auth: { type: 'iam', region: 'eu-west-1' }, spool: join(dir, 'strongbox-drill-wal', 'app', 'spool') });
      await expect(taskRestoreCommand({}, 'app', dir)).rejects.toMatchObject({ code: 'CONFIG_INVALID', hint: expect.stringContaining('STRONGBOX_ARCHIVE_URL') });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
