/**
 * The local state machine runs are held to Step Functions' 256 KB limit on a state's input
 * and output (execute in support.ts), as AWS would fail them with States.DataLimitExceeded.
 */
import { describe, expect, it } from 'vitest';
import { execute, STATE_DATA_LIMIT } from './support';

const definition = { StartAt: 'Work', States: { Work: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', End: true } } };

describe('Step Functions data limit in the local runs', () => {
  it('fails an execution whose state output is over 256 KB', async () => {
    const big = await execute(definition, { job: 'x' }, { Work: async () => ({ rows: 'r'.repeat(STATE_DATA_LIMIT) }) }, 'too-big');
    expect(big.error).toMatchObject({ name: 'States.DataLimitExceeded', message: expect.stringContaining('Work output') });
  });

  it('lets one just under the limit through', async () => {
    const fits = await execute(definition, { job: 'x' }, { Work: async () => ({ rows: 'r'.repeat(STATE_DATA_LIMIT - 100) }) }, 'fits');
    expect(fits.error).toBeUndefined();
    expect(fits.output).toMatchObject({ rows: expect.any(String) });
  });
});
