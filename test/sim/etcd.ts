// A model of etcd for the simulator's etcd mode: a linearizable key-value store with
// leases, served by the Raft leader of a 3-member cluster, answering every StoreCall of
// the engine exactly as src/etcd/store.ts does against a real etcd:
//  - campaign: grant a lease of ceil(ttl/1 s) seconds, then one transaction: if
//    `leader` is absent, read `last-master` (the previous holder), put `leader` bound to
//    the lease and overwrite `last-master`; the epoch is that transaction's revision (the
//    key's create revision). Else read `leader` and revoke the new lease (won: false);
//  - keepalive: the lease's TTL, or 0 when the lease is gone; resign: revoke the lease
//    (deleting the key bound to it); read: `leader` and every `hosts/<id>`; publish: put.
// What the model keeps, as etcd does:
//  - every request is applied at one instant (linearizable), the instant it reaches the
//    cluster; a request that arrives while no leader serves (an election, or no majority
//    of members up) is lost, and its client sees its deadline pass;
//  - a lease expires TTL after the leader last renewed it, on real time (the model has no
//    clock drift; the client side carries the drift bound);
//  - a new leader restarts every lease's countdown at the end of its election (leases
//    only get longer across a leader change), and nothing expires while no leader serves;
//  - every write (a put, a transaction that writes, a delete by expiry or revoke) bumps
//    the revision by one.
// Nothing here is applied ahead of its time: the shell (etcd-shell.ts) calls apply() from
// the event at which a request arrives.
import type { HostRecord, LeaderRecord, StoreCall, StoreResult } from '../../src/core/types.js';
import type { Prng } from './prng.js';

export const ETCD_MEMBERS = 3;

interface Lease {
  ttlMs: number;
  expiresAtMs: number;
}

interface LeaderKey {
  hostId: number;
  createRevision: number;
  lease: string;
}

/** One change of the `leader` key, for the checkers and traces. */
export interface HolderChange {
  atMs: number;
  hostId: number | null;
  epoch: number;
}

export class EtcdModel {
  revision = 1;
  private leader: LeaderKey | null = null;
  private lastMaster = 0;
  private readonly hosts = new Map<number, HostRecord>();
  private readonly leases = new Map<string, Lease>();
  private nextLease = 0x1000;
  private readonly up: boolean[] = Array.from({ length: ETCD_MEMBERS }, () => true);
  private leaderMember = 0;
  /** No leader serves until then (an election in progress). */
  private electingUntilMs = 0;
  readonly changes: HolderChange[] = [];
  /** Called when a campaign creates the `leader` key (the checkers look at every host then). */
  onHolderChange: (() => void) | null = null;

  constructor(private readonly rng: Prng) {}

  private get majority(): boolean {
    return this.up.filter(Boolean).length * 2 > this.up.length;
  }

  /** A leader serves: a majority of members is up and no election runs. */
  serving(nowMs: number): boolean {
    return this.majority && nowMs >= this.electingUntilMs;
  }

  /** An election time of 0.3 to 1.5 s (etcd's election timeout and a vote or two). */
  drawElectionMs(): number {
    return this.rng.range(300, 1_500);
  }

  /**
   * Expires what is due by `nowMs`. Leases only expire while a majority is up: every
   * state change calls this first, and an election extends every lease past its end.
   */
  advance(nowMs: number): void {
    if (!this.majority) return;
    const due = [...this.leases].filter(([, l]) => l.expiresAtMs <= nowMs).sort((a, b) => a[1].expiresAtMs - b[1].expiresAtMs);
    for (const [id, l] of due) this.dropLease(id, l.expiresAtMs);
  }

  /** The leader record as the cluster holds it now (null: none). */
  holderAt(nowMs: number): LeaderRecord | null {
    this.advance(nowMs);
    return this.leader === null ? null : { hostId: this.leader.hostId, epoch: this.leader.createRevision, lease: this.leader.lease };
  }

  /** Real time at which lease `id` expires now (undefined: gone). */
  expiresAt(id: string): number | undefined {
    return this.leases.get(id)?.expiresAtMs;
  }

  /** The Raft leader moves: nobody serves for an election, then every lease restarts its TTL. */
  leaderChange(nowMs: number, electionMs = this.drawElectionMs()): void {
    this.advance(nowMs);
    if (!this.majority) return; // no election without a majority; a returning member starts one
    this.electingUntilMs = Math.max(this.electingUntilMs, nowMs + electionMs);
    for (const l of this.leases.values()) l.expiresAtMs = Math.max(l.expiresAtMs, this.electingUntilMs + l.ttlMs);
    const others = this.up.map((u, i) => (u && i !== this.leaderMember ? i : -1)).filter((i) => i >= 0);
    if (others.length > 0) this.leaderMember = this.rng.pick(others);
  }

  /** Member `i` stops; losing the leader starts an election among the rest. */
  killMember(i: number, nowMs: number): void {
    this.advance(nowMs);
    if (!this.up[i]) return;
    this.up[i] = false;
    if (i === this.leaderMember) this.leaderChange(nowMs);
  }

  /** Member `i` is back; a regained majority elects a leader first. */
  startMember(i: number, nowMs: number): void {
    this.advance(nowMs);
    if (this.up[i]) return;
    const had = this.majority;
    this.up[i] = true;
    if (!had && this.majority) {
      this.leaderMember = i;
      this.leaderChange(nowMs);
    }
  }

  /** Every member up again (the heal); an election follows if the majority was lost. */
  startAll(nowMs: number): void {
    for (let i = 0; i < ETCD_MEMBERS; i++) this.startMember(i, nowMs);
  }

  membersUp(): number {
    return this.up.filter(Boolean).length;
  }

  /** Applies one call at `nowMs`: its answer, or null when no leader serves it (lost). */
  apply(call: StoreCall, nowMs: number): StoreResult | null {
    this.advance(nowMs);
    if (!this.serving(nowMs)) return null;
    switch (call.op) {
      case 'campaign':
        return this.campaign(call.hostId, call.ttlMs, nowMs);
      case 'keepalive': {
        const l = this.leases.get(call.lease);
        if (l === undefined) return { op: 'keepalive', ok: true, ttlMs: 0 };
        l.expiresAtMs = nowMs + l.ttlMs;
        return { op: 'keepalive', ok: true, ttlMs: l.ttlMs };
      }
      case 'resign':
        this.dropLease(call.lease, nowMs);
        return { op: 'resign', ok: true };
      case 'read':
        return { op: 'read', ok: true, holder: this.holderAt(nowMs), hosts: [...this.hosts.values()].map((r) => ({ ...r, resources: [...r.resources] })) };
      case 'publish':
        this.hosts.set(call.record.hostId, { ...call.record, resources: [...call.record.resources] });
        this.revision += 1;
        return { op: 'publish', ok: true };
    }
  }

  /** leaseGrant, then the create-if-absent transaction (src/etcd/store.ts campaign). */
  private campaign(hostId: number, ttlMs: number, nowMs: number): StoreResult {
    const granted = Math.max(1, Math.ceil(ttlMs / 1_000)) * 1_000;
    const lease = String(this.nextLease++);
    this.leases.set(lease, { ttlMs: granted, expiresAtMs: nowMs + granted });
    if (this.leader !== null) {
      const holder = { hostId: this.leader.hostId, epoch: this.leader.createRevision, lease: this.leader.lease };
      this.leases.delete(lease); // the failed campaign revokes its lease (nothing is bound to it)
      return { op: 'campaign', ok: true, won: false, holder };
    }
    const previous = this.lastMaster;
    this.revision += 1;
    this.leader = { hostId, createRevision: this.revision, lease };
    this.lastMaster = hostId;
    this.changes.push({ atMs: nowMs, hostId, epoch: this.revision });
    this.onHolderChange?.();
    return { op: 'campaign', ok: true, won: true, epoch: this.revision, lease, ttlMs: granted, previous };
  }

  private dropLease(id: string, atMs: number): void {
    if (!this.leases.delete(id)) return;
    if (this.leader?.lease !== id) return;
    this.leader = null;
    this.revision += 1;
    this.changes.push({ atMs, hostId: null, epoch: this.revision });
  }
}
