// Simulated I/O fencing. With 'pr' the fence is a PREEMPT AND ABORT of the victim's key on
// every voting disk and data LUN: from then on its writes fail with a reservation conflict
// (reads still work: Write Exclusive - Registrants Only). A fencer that is itself fenced
// cannot preempt. With 'none' there is no driver and the fence reports failure.
import type { SimHost } from './host.js';
import type { World } from './world.js';

export function applyFence(w: World, fencer: SimHost, victim: number): void {
  const inc = fencer.incarnation;
  const latencyMs = w.rng.disk.range(2, 40);
  w.after(latencyMs, {
    code: 'fence-end',
    host: 0,
    gate: 'none',
    inc: -1,
    run: () => {
      let ok = false;
      let detail = 'fencing driver none';
      if (w.knobs.fencing === 'pr') {
        if (w.dataFenced.has(fencer.id)) {
          detail = 'fencer is not registered (reservation conflict)';
        } else if (victim === fencer.id) {
          detail = 'refusing to fence the local host';
        } else {
          for (const d of w.disks) d.fenced.add(victim);
          w.dataFenced.add(victim);
          ok = true;
          detail = 'preempted';
          w.check.onHostStateChanged(w.host(victim), 'fenced');
        }
      }
      w.deliver(fencer.id, inc, 0, 'fence-done', (nowMs) => ({ kind: 'fence-done', nowMs, victim, ok, detail }));
    },
  });
}

/**
 * The host re-registers its own key (REGISTER AND IGNORE EXISTING KEY) on every disk and
 * data LUN. Only legal once a decision admitted it again: the checker verifies that.
 */
export function applyUnfence(w: World, host: SimHost, epoch: number): void {
  w.check.onUnfence(host, epoch);
  const inc = host.incarnation;
  w.after(w.rng.disk.range(2, 40), {
    code: 'unfence-end',
    host: 0,
    gate: 'none',
    inc: -1,
    run: () => {
      if (w.knobs.fencing !== 'pr' || !host.alive || host.incarnation !== inc) return;
      for (const d of w.disks) d.fenced.delete(host.id);
      w.dataFenced.delete(host.id);
      w.check.onHostStateChanged(host, 'unfenced');
    },
  });
}
