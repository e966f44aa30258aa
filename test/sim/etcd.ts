// A model of etcd for the simulator's etcd mode (issue 10): a linearizable key-value store
// with leases, served by a Raft leader that can be lost and re-elected. What the model
// keeps, as etcd does:
//  - every request is applied at one instant (linearizable); a request sent while no
//    leader serves (an election, or no majority of members up) is lost, and the client
//    sees its deadline pass;
//  - a lease expires TTL after the leader last renewed it, on real time (the leader's
//    clock; the model has no drift there, the client side carries the drift bound);
//  - a new leader restarts every lease's countdown at its election (leases only get
//    longer across a leader change, never shorter);
//  - the leader key is created only if absent (create revision = epoch), deleted when
//    its lease expires or is revoked.
// Times are real (virtual) milliseconds; `delayMs` is drawn per message by the caller.
import type { Prng } from './prng.js';

export interface EtcdKey {
  value: number; // the holder's host id
  createRevision: number;
  lease: number;
}

export type EtcdReply =
  | { kind: 'campaign'; won: boolean; holder: EtcdKey | null; lease: number; ttlMs: number }
  | { kind: 'keepalive'; ttlMs: number } // 0: the lease is gone
  | { kind: 'revoke' }
  | { kind: 'get'; key: EtcdKey | null };

export type EtcdRequest =
  | { kind: 'campaign'; hostId: number; ttlMs: number }
  | { kind: 'keepalive'; lease: number }
  | { kind: 'revoke'; lease: number }
  | { kind: 'get' };

export class EtcdModel {
  revision = 1;
  key: EtcdKey | null = null;
  private readonly leases = new Map<number, { ttlMs: number; expiresAtMs: number }>();
  private nextLease = 1;
  private readonly up: boolean[];
  /** No leader serves until then (an election in progress). */
  private electingUntilMs = 0;
  /** Every change of holder, for the checkers: who held the key from when. */
  readonly holders: Array<{ atMs: number; hostId: number | null; epoch: number }> = [];

  constructor(
    members: number,
    private readonly electionMs: number,
  ) {
    this.up = Array.from({ length: members }, () => true);
  }

  /** A majority of members is up and no election runs. */
  serving(nowMs: number): boolean {
    return nowMs >= this.electingUntilMs && this.up.filter(Boolean).length * 2 > this.up.length;
  }

  /** Member `i` stops; if that loses the leader (modelled as member 0) an election follows. */
  killMember(i: number, nowMs: number): void {
    this.up[i] = false;
    if (i === 0) this.leaderChange(nowMs);
  }

  /** Member `i` is back; a regained majority elects a leader first. */
  startMember(i: number, nowMs: number): void {
    const hadMajority = this.serving(nowMs) || nowMs < this.electingUntilMs;
    this.up[i] = true;
    if (!hadMajority && this.up.filter(Boolean).length * 2 > this.up.length) this.leaderChange(nowMs);
  }

  /** The Raft leader moves: nobody serves for an election, then every lease restarts its TTL. */
  leaderChange(nowMs: number): void {
    this.expire(nowMs);
    this.electingUntilMs = nowMs + this.electionMs;
    for (const l of this.leases.values()) l.expiresAtMs = Math.max(l.expiresAtMs, this.electingUntilMs + l.ttlMs);
  }

  /** Applies one request at `nowMs`, or returns null when no leader serves it (lost). */
  apply(req: EtcdRequest, nowMs: number): EtcdReply | null {
    this.expire(nowMs);
    if (!this.serving(nowMs)) return null;
    switch (req.kind) {
      case 'campaign': {
        const lease = this.nextLease++;
        this.leases.set(lease, { ttlMs: req.ttlMs, expiresAtMs: nowMs + req.ttlMs });
        if (this.key !== null) {
          this.leases.delete(lease);
          return { kind: 'campaign', won: false, holder: { ...this.key }, lease: 0, ttlMs: 0 };
        }
        this.revision += 1;
        this.key = { value: req.hostId, createRevision: this.revision, lease };
        this.holders.push({ atMs: nowMs, hostId: req.hostId, epoch: this.revision });
        return { kind: 'campaign', won: true, holder: { ...this.key }, lease, ttlMs: req.ttlMs };
      }
      case 'keepalive': {
        const l = this.leases.get(req.lease);
        if (l === undefined) return { kind: 'keepalive', ttlMs: 0 };
        l.expiresAtMs = nowMs + l.ttlMs;
        return { kind: 'keepalive', ttlMs: l.ttlMs };
      }
      case 'revoke':
        this.dropLease(req.lease, nowMs);
        return { kind: 'revoke' };
      case 'get':
        return { kind: 'get', key: this.key === null ? null : { ...this.key } };
    }
  }

  /** Real time at which lease `id` expires at etcd now (undefined: gone). */
  expiresAt(id: number): number | undefined {
    return this.leases.get(id)?.expiresAtMs;
  }

  private expire(nowMs: number): void {
    // Only a serving leader expires leases: with no leader, nothing changes.
    if (!this.serving(nowMs)) return;
    for (const [id, l] of this.leases) if (l.expiresAtMs <= nowMs) this.dropLease(id, l.expiresAtMs);
  }

  private dropLease(id: number, atMs: number): void {
    this.leases.delete(id);
    if (this.key?.lease === id) {
      this.key = null;
      this.revision += 1;
      this.holders.push({ atMs, hostId: null, epoch: this.revision });
    }
  }
}

/** One message's one-way delay: mostly small, sometimes a long tail. */
export function etcdDelay(rng: Prng): number {
  return rng.latency(0.5, 400, 0.05);
}
