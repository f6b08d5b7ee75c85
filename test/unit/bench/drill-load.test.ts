import { describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import { pgbenchLoad } from '../../../bench/drill/load';

// bench:drill's load stops before the disk fills (an hour of unthrottled pgbench is ~130 GB of WAL).
describe('the drill benchmark\'s pgbench load', () => {
  it('runs nothing and says why when the disk has less free than the bench keeps', async () => {
    const said: string[] = [];
    const load = await pgbenchLoad({ minutes: 60, work: tmpdir(), env: {}, database: 'postgres', signal: new AbortController().signal, floorBytes: Number.MAX_SAFE_INTEGER, progress: (line) => said.push(line) });
    expect(load).toEqual({ minutes: 0, stoppedWithFreeBytes: expect.any(Number) });
    expect(said).toEqual([expect.stringMatching(/^pgbench stopped after 0 of 60 min: .* GiB free under /)]);
  });
});
