// The addon's event-loop wake-up probe (native/loop_probe.cc): it sees the loop blocked, it
// does not keep a process alive, and it refuses bad arguments and use after stop.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { LoopProbeNative } from '../../src/metrics/loop-lag.js';
import { loadNative, packageRoot } from '../../src/native.js';

const native = (): LoopProbeNative => loadNative<LoopProbeNative>();

describe('loop probe', () => {
  it('measures how long the loop was blocked, and little when it is idle', async () => {
    const probe = native().startLoopProbe(5);
    try {
      await sleep(300);
      const idle = probe.take();
      expect(idle.count).toBeGreaterThan(20);
      expect(idle.p50Ms).toBeLessThan(5);
      const until = performance.now() + 80;
      while (performance.now() < until) { /* the loop is blocked */ }
      await sleep(50);
      const blocked = probe.take();
      expect(blocked.maxMs).toBeGreaterThan(60);
      expect(blocked.maxMs).toBeLessThan(1000);
    } finally {
      probe.stop();
    }
  });

  it('answers nulls for an empty window and refuses use after stop', () => {
    const probe = native().startLoopProbe(1000);
    probe.take(); // the first post may have been answered already
    expect(probe.take()).toEqual({ count: 0, p50Ms: null, p99Ms: null, maxMs: null });
    probe.stop();
    probe.stop(); // twice is fine
    expect(() => probe.take()).toThrow(/already stopped/);
  });

  it('refuses a period that is not a number from 1 to 60000', () => {
    for (const bad of [0, -5, 60_001, Number.NaN, '10']) expect(() => native().startLoopProbe(bad as number)).toThrow(/periodMs must be a number from 1 to 60000/);
  });

  it('does not keep a process alive', () => {
    const addon = join(packageRoot(), 'build', 'Release', 'ycs_native.node');
    const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(addon)}).startLoopProbe(10)`], { timeout: 10_000 });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
  });
});
