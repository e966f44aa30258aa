// The fence shell's step queue: steps run one at a time in queue order, a caller gets its
// own step's result or error, and a failed step does not stop the ones after it.
import { describe, expect, it } from 'vitest';
import { StepQueue } from '../../src/daemon/step-queue.js';

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('StepQueue', () => {
  it('runs steps one at a time, in the order they were queued', async () => {
    const queue = new StepQueue();
    const log: string[] = [];
    const step = (name: string, ms: number) => async (): Promise<string> => {
      log.push(`${name} start`);
      await tick(ms);
      log.push(`${name} end`);
      return name;
    };
    const results = await Promise.all([queue.run(step('register', 30)), queue.run(step('operator fence', 1)), queue.run(step('reserve', 10))]);
    expect(results).toEqual(['register', 'operator fence', 'reserve']);
    expect(log).toEqual(['register start', 'register end', 'operator fence start', 'operator fence end', 'reserve start', 'reserve end']);
  });

  it('gives a failed step\'s error to its caller only, and goes on', async () => {
    const queue = new StepQueue();
    const errors: unknown[] = [];
    const failing = queue.enqueue(async () => { throw new Error('register failed'); }, (err) => errors.push(err));
    const rejected = queue.run(async () => { throw new Error('fence failed'); });
    const after = queue.run(async () => 'still runs');
    await expect(failing).resolves.toBeUndefined();
    await expect(rejected).rejects.toThrow('fence failed');
    await expect(after).resolves.toBe('still runs');
    expect(errors).toEqual([new Error('register failed')]);
  });
});
