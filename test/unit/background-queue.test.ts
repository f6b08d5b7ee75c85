import { describe, expect, it } from 'vitest';
import { BackgroundQueue } from '../../shared/local/background-queue';
import { captureLog } from '../support/stack';

describe('BackgroundQueue: local work off the caller\'s path', () => {
  it('runs jobs one at a time in order, logs a failure without stopping, and idle() waits for what was queued', async () => {
    // Prepare
    const log = captureLog();
    const queue = new BackgroundQueue({ name: 'test', log });
    const order: string[] = [];
    let running = 0;
    let most = 0;
    const job = (label: string, fail = false) => async () => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setImmediate(resolve));
      order.push(label);
      running -= 1;
      if (fail) throw new Error(`${label} failed`);
    };
    // Act
    for (const [label, fail] of [['a', false], ['b', true], ['c', false]] as const) queue.push(job(label, fail));
    await queue.idle();
    // Assess
    expect(order).toEqual(['a', 'b', 'c']);
    expect(most).toBe(1);
    expect(queue.stats()).toMatchObject({ ran: 3, waiting: 0 });
    expect(log.lines).toEqual([expect.objectContaining({ level: 'ERROR', message: 'background job failed', attributes: expect.objectContaining({ error: 'b failed' }) })]);
  });

  it('drops a job past its bound, with a warning (reconciliation does what it would have done)', async () => {
    // Prepare
    const log = captureLog();
    const queue = new BackgroundQueue({ name: 'test', log, max: 2 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // Act
    const accepted = [queue.push(() => gate), queue.push(async () => {}), queue.push(async () => {})];
    release();
    await queue.idle();
    // Assess
    expect(accepted).toEqual([true, true, false]);
    expect(log.lines.map((line) => line.message)).toEqual(['background job dropped: queue full (reconciliation will do it)']);
  });

  it('holds jobs not started yet until released', async () => {
    // Prepare
    const queue = new BackgroundQueue({ name: 'test', log: captureLog() });
    const ran: string[] = [];
    queue.hold();
    // Act
    queue.push(async () => void ran.push('a'));
    await new Promise((resolve) => setTimeout(resolve, 0));
    const before = [...ran];
    queue.release();
    await queue.idle();
    // Assess
    expect(before).toEqual([]);
    expect(ran).toEqual(['a']);
  });
});
