// Simulated databases, one per configured resource on each host. A database started by
// ycs connects and sends network heartbeat 2 every NETWORK_HB_INTERVAL; a primary writes
// to its data LUN every few milliseconds, and those writes are what the split-brain
// checker judges. demote and stop block new I/O at once (the seed: block new I/O, let old
// I/O finish), the action's completion comes later.
//
// Heartbeat 2 leases: ycs's shell answers each heartbeat with what is left of the latest
// grant the engine emitted for that resource (SimHost.grants), without asking the engine,
// so a wedged engine's grants simply run out. A primary writes only while its lease from
// a primary grant holds; a revoke-authority ends it at once.
import type { ResourceAction, ResourceState } from '../../src/core/types.js';
import type { SimHost } from './host.js';
import type { World } from './world.js';

const DATA_WRITE_INTERVAL_MS = 50;

export class SimDb {
  state: ResourceState = 'offline';
  epoch = 0;
  generation = 0; // bumped whenever the process starts or stops; old chains then end
  /**
   * Host-clock time until which this database may write as primary (its heartbeat-2
   * lease): it measures the lease with the clock ycs granted it on, the host's, so a
   * change of the host's clock rate moves both alike.
   */
  leaseUntil = -Infinity;
  /** Its heartbeat-2 connection to ycs is up (down from a ycs crash until it reconnects). */
  connected = true;
  /** It told this ycs incarnation 'connected' since its last start (status may show it running). */
  toldConnected = false;

  /** Primary and inside a lease the engine granted: what the split-brain checkers count. */
  actsAsPrimary(localNowMs: number): boolean {
    return this.state === 'primary' && localNowMs < this.leaseUntil;
  }
}

/**
 * The shell acks a heartbeat of resource `resource`: a primary database's lease runs to
 * the end of the latest primary grant, on the host's clock.
 */
export function ackHeartbeat(w: World, h: SimHost, resource: number): void {
  const db = h.dbs[resource];
  const g = h.grants[resource];
  if (!db || db.state !== 'primary' || !db.connected) return;
  const leftMs = g?.primary === true ? Math.max(0, g.untilMs - h.localNow()) : 0;
  db.leaseUntil = h.localNow() + leftMs;
  if (leftMs > 0) w.check.onPrimariesChanged(resource);
}

/** revoke-authority: no database of this host writes as primary from now on. */
export function revokeAuthority(h: SimHost): void {
  for (const db of h.dbs) db.leaseUntil = -Infinity;
  h.grants.fill(null);
}

function actionLatency(w: World): number {
  return w.rng.db.latency(20, 400, 0.1);
}

function dbEvent(w: World, h: SimHost, code: string, delayMs: number, run: () => void): void {
  w.after(delayMs, { code, host: h.id, gate: 'db', inc: h.incarnation, run });
}

/** What the database tells this host's ycs over heartbeat 2, 0.1 ms later. */
function dbTells(w: World, h: SimHost, resource: number, event: 'connected' | 'heartbeat' | 'disconnected'): void {
  const db = h.dbs[resource];
  if (db?.connected === false) return; // nobody listens: ycs is down
  w.deliver(h.id, h.incarnation, 0.1, `db-${event}`, (nowMs) => {
    if (db !== undefined && event === 'connected') db.toldConnected = true; // heard by ycs from now on
    return { kind: 'resource-event', nowMs, resource, event };
  });
}

function done(w: World, h: SimHost, resource: number, action: ResourceAction, ok: boolean): void {
  w.deliver(h.id, h.incarnation, 0, 'resource-done', (nowMs) => ({
    kind: 'resource-action-done',
    nowMs,
    resource,
    action,
    ok,
  }));
}

export function resourceAction(w: World, h: SimHost, resource: number, action: ResourceAction, epoch: number): void {
  const db = h.dbs[resource];
  if (!db) return w.check.violation('bad-resource-index', h.id, `resource ${resource}`);
  const gen = db.generation;
  switch (action) {
    case 'start':
      if (db.state === 'standby' || db.state === 'primary') return done(w, h, resource, action, true);
      db.state = 'starting';
      db.toldConnected = false;
      db.generation += 1;
      return dbEvent(w, h, 'db-started', actionLatency(w), () => {
        if (db.state !== 'starting') return done(w, h, resource, action, false);
        db.state = 'standby';
        db.connected = true;
        const g = db.generation;
        dbTells(w, h, resource, 'connected');
        heartbeatChain(w, h, resource, g);
        done(w, h, resource, action, true);
      });
    case 'promote':
      if (db.state !== 'standby' && db.state !== 'primary') return done(w, h, resource, action, false);
      return dbEvent(w, h, 'db-promoted', actionLatency(w), () => {
        if (db.generation !== gen || (db.state !== 'standby' && db.state !== 'primary')) {
          return done(w, h, resource, action, false);
        }
        db.state = 'primary';
        db.epoch = epoch;
        ackHeartbeat(w, h, resource); // the promoted database's first heartbeat as primary
        w.check.onPrimariesChanged(resource);
        writeChain(w, h, resource, db.generation, epoch);
        done(w, h, resource, action, true);
      });
    case 'demote':
      if (db.state === 'primary') {
        db.state = 'standby';
        db.generation += 1; // ends the write chain; the heartbeat chain restarts below
        heartbeatChain(w, h, resource, db.generation);
        w.check.onPrimariesChanged(resource);
      }
      return dbEvent(w, h, 'db-demoted', actionLatency(w), () => done(w, h, resource, action, true));
    case 'stop':
      if (db.state !== 'offline') {
        db.state = 'offline';
        db.generation += 1;
        w.check.onPrimariesChanged(resource);
      }
      return dbEvent(w, h, 'db-stopped', actionLatency(w), () => done(w, h, resource, action, true));
  }
}

function heartbeatChain(w: World, h: SimHost, resource: number, generation: number): void {
  const db = h.dbs[resource];
  const interval = h.realDelay(w.timeouts.netHbIntervalMs);
  dbEvent(w, h, 'db-heartbeat', interval * w.rng.db.range(0.9, 1.1), () => {
    if (!db || db.generation !== generation) return;
    dbTells(w, h, resource, 'heartbeat');
    ackHeartbeat(w, h, resource);
    heartbeatChain(w, h, resource, generation);
  });
}

function writeChain(w: World, h: SimHost, resource: number, generation: number, epoch: number): void {
  const db = h.dbs[resource];
  dbEvent(w, h, 'db-write', DATA_WRITE_INTERVAL_MS * w.rng.db.range(0.5, 1.5), () => {
    if (!db || db.generation !== generation || db.state !== 'primary') return;
    if (db.actsAsPrimary(h.localNow()) && !w.storage.fencedFromData(h.id)) w.check.onDataWrite(h, resource, epoch);
    writeChain(w, h, resource, generation, epoch);
  });
}

/** A database process dies on its own: ycs sees its socket close. */
export function crashDb(w: World, h: SimHost, resource: number): void {
  const db = h.dbs[resource];
  if (!db || db.state === 'offline' || db.state === 'failed') return;
  db.state = 'failed';
  db.generation += 1;
  w.check.onPrimariesChanged(resource);
  dbTells(w, h, resource, 'disconnected');
}

/** A database process hangs: its chains end without a word, so heartbeat 2 goes silent. */
export function hangDb(h: SimHost, resource: number): void {
  const db = h.dbs[resource];
  if (db && db.state !== 'offline') db.generation += 1;
}

/** ycs died: every database loses its connection (and no heartbeat is acked). */
export function disconnectDbs(h: SimHost): void {
  for (const db of h.dbs) {
    db.connected = false;
    db.toldConnected = false; // the next ycs hears nothing until the database reconnects
  }
}

/**
 * The restarted ycs listens again: each running database reconnects after its client's
 * backoff (up to 8 heartbeat intervals) and says so; its chains now talk to the new ycs.
 */
export function reconnectDbs(w: World, h: SimHost): void {
  h.dbs.forEach((db, resource) => {
    if (db.state !== 'standby' && db.state !== 'primary') {
      db.connected = true;
      return;
    }
    db.generation += 1; // the old chains belonged to the old ycs's incarnation
    const g = db.generation;
    heartbeatChain(w, h, resource, g);
    if (db.state === 'primary') writeChain(w, h, resource, g, db.epoch);
    dbEvent(w, h, 'db-reconnected', w.rng.db.range(100, 8 * w.timeouts.netHbIntervalMs), () => {
      if (db.generation !== g) return;
      db.connected = true;
      dbTells(w, h, resource, 'connected');
    });
  });
}

/** The host went down: every database on it is gone with it. */
export function crashAllDbs(w: World, h: SimHost): void {
  h.dbs.forEach((db, resource) => {
    if (db.state === 'offline') return;
    db.state = 'offline';
    db.generation += 1;
    w.check.onPrimariesChanged(resource);
  });
}
