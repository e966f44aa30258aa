// The contract between the pure cluster engine (src/core) and the I/O shells that feed it:
// the daemon (src/daemon) on real hosts and the deterministic simulator (test/sim).
//
// The engine is a pure state machine: no I/O, no timers, no clock, no randomness.
// Every input carries the host's local monotonic time `nowMs`; clocks are never compared
// across hosts. The engine answers every input with a list of outputs, which the shell
// carries out in order. Ordering rules the engine relies on (see docs/engine.md):
//   1. A disk write is reported done only once it is durable (O_DSYNC/FUA) on that disk.
//   2. The engine emits an output that depends on a write (promote after a decision, a
//      network message announcing a vote) only after the write's `disk-write-done`.
//   3. Shells never reorder outputs of one step; outputs of different steps may overlap
//      in flight (a read may be pending while a write is issued).

export type HostId = number; // 1..255, the slot index + 1 on the voting disk

/** The role a host plays in the cluster, as published in its heartbeat sector. */
export type Role = 'starting' | 'standby' | 'master' | 'evicted' | 'leaving';

export type ResourceState = 'unknown' | 'offline' | 'starting' | 'standby' | 'primary' | 'failed';

/** A cluster decision: made once per epoch with Disk Paxos over the vote sectors. */
export interface Decision {
  epoch: number;
  masterId: HostId;
  members: HostId[]; // sorted ascending
}

/** Payload of a host's heartbeat sector (mirrors src/disk/layout.ts). */
export interface HeartbeatPayload {
  role: Role;
  epoch: number; // the decided epoch this host currently follows
  masterId: HostId | 0; // 0 = none known
  heard: HostId[]; // peers heard over network heartbeat 1 within NETWORK_HB_TIMEOUT, sorted
  resources: Array<{ state: ResourceState }>; // in configured resource order, <= 16
  flags: number;
}

/** HeartbeatPayload.flags bit: decided master, waiting until every older master is stopped. */
export const HEARTBEAT_FLAG_PROMOTING = 1;

/**
 * HeartbeatPayload.flags bit 16 + i: resource i runs (primary or standby) but its database,
 * which must use heartbeat 2, has not connected over it (yet); status shows it as starting.
 */
export const HEARTBEAT_FLAG_AWAITING_HB2_SHIFT = 16;

/** Payload of a host's vote sector: one Disk Paxos block (mirrors src/disk/layout.ts). */
export interface VotePayload {
  instance: number; // the epoch being decided
  mbal: number; // highest ballot this host has started (ballot = round * 256 + hostId)
  bal: number; // ballot of the value accepted in `value`, 0 = none
  value: Decision | null;
  decided: Decision | null; // the latest decision this host knows to be committed
}

export interface SlotRecord<P> {
  hostId: HostId;
  incarnation: number; // grows at every daemon start
  sequence: number; // grows at every write of this slot
  payload: P;
}

/** One slot as read from a disk. Only 'ok' slots carry a record; others are never trusted. */
export type SlotVerdict =
  | 'ok'
  | 'empty'
  | 'corrupt'
  | 'crc-mismatch'
  | 'foreign'
  | 'future-version'
  | 'misplaced';

export interface SlotRead<P> {
  hostId: HostId;
  verdict: SlotVerdict;
  record?: SlotRecord<P>;
}

export type DiskArea = 'heartbeat' | 'vote';
export type DiskError = 'timeout' | 'stalled' | 'io' | 'reservation-conflict';

export type ResourceEvent =
  | 'heartbeat' // network heartbeat 2 received
  | 'connected'
  | 'disconnected' // the resource's socket closed: crash report
  | 'monitor-ok'
  | 'monitor-failed';

export type ResourceAction = 'start' | 'stop' | 'promote' | 'demote';

/** A step on a fenced device that the engine orders (the fence of a victim is its own output). */
export type FenceStep = 'register' | 'rekey' | 'reserve';

/** Network heartbeat 1 message body (the transport adds auth, incarnation, sequence). */
export interface NetHeartbeat {
  from: HostId;
  incarnation: number;
  sequence: number;
  role: Role;
  epoch: number;
  masterId: HostId | 0;
  heard: HostId[];
}

export type Input =
  | { kind: 'start'; nowMs: number } // once, first input after the daemon starts
  | { kind: 'tick'; nowMs: number }
  | {
      kind: 'disk-read-done';
      nowMs: number;
      requestId: number;
      disk: number;
      heartbeats: SlotRead<HeartbeatPayload>[];
      votes: SlotRead<VotePayload>[];
    }
  | { kind: 'disk-write-done'; nowMs: number; requestId: number; disk: number; area: DiskArea }
  | { kind: 'disk-failed'; nowMs: number; requestId: number; disk: number; error: DiskError }
  | { kind: 'net-heartbeat'; nowMs: number; message: NetHeartbeat }
  | { kind: 'resource-event'; nowMs: number; resource: number; event: ResourceEvent }
  | { kind: 'resource-action-done'; nowMs: number; resource: number; action: ResourceAction; ok: boolean }
  | { kind: 'fence-done'; nowMs: number; victim: HostId; ok: boolean; detail?: string }
  // The result of a `register` or `reserve` output on one fenced device.
  // keyGone: a rekey met RESERVATION CONFLICT, the old key was no longer registered (fenced).
  | { kind: 'fence-step-done'; nowMs: number; step: FenceStep; device: number; ok: boolean; detail?: string; sessionReset?: boolean; keyGone?: boolean }
  | { kind: 'shutdown'; nowMs: number } // operator asked the daemon to stop normally
  // Lease-store mode (etcd): the answer to one `store` output, matched by requestId.
  | { kind: 'store-done'; nowMs: number; requestId: number; result: StoreResult };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type Output =
  | { kind: 'read-disk'; requestId: number; disk: number } // reads both areas, one I/O each
  | { kind: 'write-heartbeat'; requestId: number; disk: number; record: SlotRecord<HeartbeatPayload> }
  | { kind: 'write-vote'; requestId: number; disk: number; record: SlotRecord<VotePayload> }
  | { kind: 'send-heartbeat'; message: NetHeartbeat } // to every peer
  | { kind: 'fence'; victim: HostId; epoch: number }
  // Register own reservation key on fenced device `device` (REGISTER AND IGNORE EXISTING
  // KEY): only while a decision admits this host, also after it was fenced.
  | { kind: 'register'; device: number; epoch: number }
  // Replace own key of `fromEpoch` on `device` by the key of `epoch` (REGISTER with the old
  // key: fails if it was preempted, so a re-key never undoes a fence). At each newer
  // decided epoch that keeps this host, before it acts in that epoch.
  | { kind: 'rekey'; device: number; fromEpoch: number; epoch: number }
  // Hold the master reservation (Write Exclusive - Registrants Only) on `device`: once per
  // epoch that names this host master, before that epoch's fences (a preempt on a device
  // without a reservation fences nobody).
  | { kind: 'reserve'; device: number; epoch: number }
  // Resource `resource` may act in its role until `untilMs` (own clock). `primary`: the grant
  // bounds write authority (it never outlasts the master window); otherwise it only says
  // that ycs is alive. The shell answers heartbeat 2 with what is left of the latest grant.
  | { kind: 'grant-lease'; resource: number; untilMs: number; primary: boolean }
  // Every resource loses primary write authority at once (this host stopped being master),
  // before any queued demote or stop runs.
  | { kind: 'revoke-authority'; reason: string }
  // The decided member set changed (the first decision a run learns admits every member).
  | { kind: 'membership'; epoch: number; masterId: HostId; members: HostId[]; admitted: HostId[]; evicted: HostId[] }
  | { kind: 'resource'; resource: number; action: ResourceAction; epoch: number }
  | { kind: 'role-change'; from: Role; to: Role; epoch: number; masterId: HostId | 0; reason: string }
  | { kind: 'log'; level: LogLevel; msg: string; fields?: Record<string, unknown> }
  | { kind: 'exit'; reason: string } // the daemon may stop now (after 'shutdown')
  // Lease-store mode (etcd): one call to the lease store; answered by one 'store-done'.
  | { kind: 'store'; requestId: number; call: StoreCall };

// ---- lease-store mode (etcd, docs/etcd-mode.md) -------------------------------------

/** The leader record: the master of a term, bound to its store lease; `epoch` is the key's create revision. */
export interface LeaderRecord {
  hostId: HostId | 0; // 0: a record this cluster did not write (never trusted as a holder)
  epoch: number;
  lease: string; // the store's lease id, opaque
}

/** What each host publishes about itself under the prefix (the status tables of the peers). */
export interface HostRecord {
  hostId: HostId;
  incarnation: number;
  role: Role;
  epoch: number;
  masterId: HostId | 0;
  resources: ResourceState[];
  /** Indexes of resources that run but wait for their database's heartbeat 2 (absent: none). */
  awaitingHb2?: number[];
}

export type StoreCall =
  // Grant a lease of ttlMs and create the leader record bound to it only if none exists.
  | { op: 'campaign'; hostId: HostId; ttlMs: number }
  | { op: 'keepalive'; lease: string }
  // Revoke the lease (deletes the leader record it holds).
  | { op: 'resign'; lease: string }
  // The leader record and every host record.
  | { op: 'read' }
  | { op: 'publish'; record: HostRecord };

export type StoreResult =
  | { op: 'campaign'; ok: true; won: true; epoch: number; lease: string; ttlMs: number; previous: HostId | 0 }
  | { op: 'campaign'; ok: true; won: false; holder: LeaderRecord | null }
  | { op: 'keepalive'; ok: true; ttlMs: number } // 0: the lease is gone at the store
  | { op: 'read'; ok: true; holder: LeaderRecord | null; hosts: HostRecord[] }
  | { op: 'resign' | 'publish'; ok: true }
  // Deadline passed or the store refused: the call may or may not have taken effect.
  | { op: StoreCall['op']; ok: false; error: string };

/** What `ycsctl status` shows; derived from the engine's state, never stored separately. */
export interface ClusterView {
  selfId: HostId;
  role: Role;
  epoch: number;
  masterId: HostId | 0;
  members: HostId[];
  hosts: Array<{
    hostId: HostId;
    target: 'online' | 'offline'; // configured to be in the cluster
    state: 'online' | 'offline';
    resources: ResourceState[];
    /**
     * Peers only: ms since this host last saw the peer's disk heartbeat change and since
     * its last network heartbeat 1 arrived, on this host's clock at its latest step; null
     * when never seen (disk is always null in etcd mode).
     */
    heartbeatAgeMs?: { disk: number | null; net: number | null };
  }>;
}
