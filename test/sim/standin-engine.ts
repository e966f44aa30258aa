// A trivial stand-in engine for testing the harness and its checkers apart from the real
// engine: the lowest host id is master of epoch 1 forever (no failover), every host
// writes its heartbeat and reads the disks each interval. With `everyoneMaster` every
// host promotes itself: the checkers must catch that at once.
import type { ClusterView, HostId, Input, Output, Role } from '../../src/core/types.js';
import type { EngineBinding, EngineSetup, SimEngine, SimTimeouts } from './binding.js';

const STANDIN_TIMEOUTS: SimTimeouts = {
  diskHbIntervalMs: 250,
  keepAliveMs: 2_000,
  netHbIntervalMs: 250,
  netHbTimeoutMs: 2_000,
  ioDeadlineMs: 1_250,
  tickMs: 50,
  rho: 0.01,
  maxSlowMs: 1_000,
  failoverBoundMs: 8_000,
  leaseMs: 1_500,
};

class StandinEngine implements SimEngine {
  private role: Role = 'starting';
  private nextWriteMs = 0;
  private requestId = 0;
  private sequence = 0;

  constructor(
    private readonly setup: EngineSetup,
    private readonly everyoneMaster: boolean,
  ) {}

  private get isMaster(): boolean {
    return this.everyoneMaster || this.setup.hostId === Math.min(...this.setup.hostIds);
  }

  step(input: Input): Output[] {
    const out: Output[] = [];
    if (input.kind === 'start') this.startRole(out);
    if (input.kind === 'resource-action-done' && input.action === 'start' && input.ok && this.isMaster) {
      out.push({ kind: 'resource', resource: input.resource, action: 'promote', epoch: 1 });
    }
    if (input.kind !== 'tick' || input.nowMs < this.nextWriteMs) return out;
    this.nextWriteMs = input.nowMs + STANDIN_TIMEOUTS.diskHbIntervalMs;
    this.sequence += 1;
    const self = this.setup.hostId;
    if (this.isMaster) {
      const untilMs = input.nowMs + STANDIN_TIMEOUTS.leaseMs - STANDIN_TIMEOUTS.diskHbIntervalMs;
      this.setup.resources.forEach((_, resource) => out.push({ kind: 'grant-lease', resource, untilMs, primary: true }));
    }
    for (let disk = 0; disk < this.setup.diskCount; disk++) {
      out.push({ kind: 'read-disk', requestId: ++this.requestId, disk });
      out.push({
        kind: 'write-heartbeat',
        requestId: ++this.requestId,
        disk,
        record: {
          hostId: self,
          incarnation: this.setup.incarnation,
          sequence: this.sequence,
          payload: { role: this.role, epoch: 1, masterId: this.masterId(), heard: [], resources: [], flags: 0 },
        },
      });
    }
    out.push({
      kind: 'send-heartbeat',
      message: { from: self, incarnation: this.setup.incarnation, sequence: this.sequence, role: this.role, epoch: 1, masterId: this.masterId(), heard: [] },
    });
    return out;
  }

  private masterId(): HostId {
    return this.everyoneMaster ? this.setup.hostId : Math.min(...this.setup.hostIds);
  }

  private startRole(out: Output[]): void {
    const to: Role = this.isMaster ? 'master' : 'standby';
    out.push({ kind: 'role-change', from: 'starting', to, epoch: 1, masterId: this.masterId(), reason: 'stand-in' });
    out.push({ kind: 'log', level: 'info', msg: to === 'master' ? 'ycs run as primary successfully' : 'try join primary' });
    this.role = to;
    this.setup.resources.forEach((_, r) => out.push({ kind: 'resource', resource: r, action: 'start', epoch: 1 }));
  }

  view(): ClusterView {
    return { selfId: this.setup.hostId, role: this.role, epoch: 1, masterId: this.masterId(), members: this.setup.hostIds, hosts: [] };
  }
}

export function standinBinding(everyoneMaster = false): EngineBinding {
  return {
    timeoutVariants: 1,
    timeouts: () => STANDIN_TIMEOUTS,
    brokenRules: [],
    create: (setup) => new StandinEngine(setup, everyoneMaster),
  };
}
