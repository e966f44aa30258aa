// The fence shell carries out the engine's register/reserve/fence outputs in output order,
// one at a time, and answers each with exactly one input, also when the driver fails.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Input } from '../../src/core/types.js';
import type { Config } from '../../src/config/index.js';
import { FenceShell } from '../../src/daemon/fence-shell.js';
import { YcsError } from '../../src/errors.js';
import type { FenceDriver, FenceOutcome } from '../../src/fence/driver.js';

/** A driver that records what runs and when, with per-call latency and failures. */
class FakeDriver implements FenceDriver {
  readonly name = 'pr' as const;
  readonly log: string[] = [];
  private running = 0;
  constructor(private readonly failing: Set<string>) {}

  private async op(what: string): Promise<void> {
    this.running += 1;
    if (this.running > 1) this.log.push('OVERLAP');
    this.log.push(`start ${what}`);
    await new Promise((r) => setTimeout(r, what.startsWith('fence') ? 15 : 5));
    this.running -= 1;
    this.log.push(`end ${what}`);
    if (this.failing.has(what)) throw new YcsError('E_IO', `${what} failed`);
  }

  register = () => this.op('register all');
  reserveAsMaster = () => this.op('reserve all');
  registerDevice = (i: number) => this.op(`register ${i}`);
  rekeyDevice = (i: number) => this.op(`rekey ${i}`);
  reserveDevice = (i: number) => this.op(`reserve ${i}`);
  async fence(victim: number): Promise<FenceOutcome> {
    await this.op(`fence ${victim}`);
    return { kind: 'fenced', victimHost: victim, victimKeys: [1n], devices: [{ device: '/dev/sdq', method: 'preempt', verified: true }] };
  }
  status = () => Promise.resolve({ driver: 'pr' as const, hostId: 1, state: 'registered' as const, devices: [] });
}

function shell(failing: string[] = []): { fence: FenceShell; driver: FakeDriver; inputs: Input[] } {
  const driver = new FakeDriver(new Set(failing));
  const inputs: Input[] = [];
  const config = { hostId: 1, hosts: [{ id: 1 }, { id: 2 }, { id: 3 }], votingDisks: ['/dev/v0', '/dev/v1'], dataDisks: ['/dev/data'] } as unknown as Config;
  const fence = FenceShell.overDriver(driver, { config, clusterUuid: 'u', disks: [], feed: (i) => inputs.push(i), now: () => 1, log: pino({ level: 'silent' }) });
  return { fence, driver, inputs };
}

const settle = (inputs: Input[], n: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = (): void => {
      if (inputs.length >= n) resolve();
      else if (Date.now() - started > 2_000) reject(new Error(`only ${inputs.length} of ${n} answers`));
      else setTimeout(poll, 2);
    };
    poll();
  });

describe('FenceShell', () => {
  it('runs the steps one at a time in output order, one answer each', async () => {
    const { fence, driver, inputs } = shell();
    fence.execute({ kind: 'register', device: 0, epoch: 4 });
    fence.execute({ kind: 'register', device: 2, epoch: 4 });
    fence.execute({ kind: 'reserve', device: 0, epoch: 4 });
    fence.execute({ kind: 'fence', victim: 3, epoch: 4 });
    fence.execute({ kind: 'reserve', device: 2, epoch: 4 });
    await settle(inputs, 5);
    expect(driver.log.filter((l) => l.startsWith('start'))).toEqual(['start register 0', 'start register 2', 'start reserve 0', 'start fence 3', 'start reserve 2']);
    expect(driver.log).not.toContain('OVERLAP');
    expect(inputs.map((i) => (i.kind === 'fence-step-done' ? `${i.step} ${i.device} ${i.ok}` : i.kind === 'fence-done' ? `fence ${i.victim} ${i.ok}` : i.kind))).toEqual([
      'register 0 true', 'register 2 true', 'reserve 0 true', 'fence 3 true', 'reserve 2 true',
    ]);
  });

  it('a failing step answers ok:false with the error line and the next step still runs', async () => {
    const { fence, inputs } = shell(['register 1', 'fence 2']);
    fence.execute({ kind: 'register', device: 1, epoch: 2 });
    fence.execute({ kind: 'fence', victim: 2, epoch: 2 });
    fence.execute({ kind: 'reserve', device: 1, epoch: 2 });
    await settle(inputs, 3);
    expect(inputs[0]).toMatchObject({ kind: 'fence-step-done', step: 'register', device: 1, ok: false, detail: 'E_IO: register 1 failed' });
    expect(inputs[1]).toMatchObject({ kind: 'fence-done', victim: 2, ok: false });
    expect(inputs[2]).toMatchObject({ kind: 'fence-step-done', step: 'reserve', device: 1, ok: true });
    expect(inputs[2]).not.toHaveProperty('detail');
  });

  it("the operator's fence waits behind the engine's steps", async () => {
    const { fence, driver, inputs } = shell();
    fence.execute({ kind: 'register', device: 0, epoch: 1 });
    const manual = fence.fenceByOperator(2);
    fence.execute({ kind: 'reserve', device: 0, epoch: 1 });
    await manual;
    await settle(inputs, 2);
    expect(driver.log.filter((l) => l.startsWith('start'))).toEqual(['start register 0', 'start fence 2', 'start reserve 0']);
    await expect(fence.fenceByOperator(1)).rejects.toThrow(/never fences itself/);
    await expect(fence.fenceByOperator(9)).rejects.toThrow(/configured host ids/);
  });
});
