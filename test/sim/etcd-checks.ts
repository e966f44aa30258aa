// etcd mode's own checker, beside every checker about primaries, grants, leases and
// writes at the storage (checkers.ts): the store decides who is master, so a host that
// acts as master (role master, alive, ycs not frozen, not fenced) or whose databases may
// still write as primary (a primary grant still running on its own clock, not fenced from
// the data LUN) must hold the leader record in the etcd model at that instant. Checked
// after each of its steps, at every change of who can act, and whenever a campaign
// creates the record (then for every host). A register at the storage is legal only
// while the registering host holds the record (disk mode asks for a decision instead).
import type { Checker } from './checkers.js';
import type { SimHost } from './host.js';
import type { World } from './world.js';

export function checkRecordHolder(w: World, check: Checker, h: SimHost): void {
  const e = w.etcd;
  if (e === null || !h.alive) return;
  const master = h.role === 'master' && check.acting(h);
  const grantEnd = check.primaryGrantEnd(h.id);
  const granting = grantEnd !== undefined && h.localNow() < grantEnd && !w.storage.fencedFromData(h.id);
  if (!master && !granting) return;
  const rec = e.model.holderAt(w.now);
  if (rec !== null && rec.hostId === h.id) return;
  const shows = rec === null ? 'no leader record' : `host ${rec.hostId} holding the leader record (epoch ${rec.epoch})`;
  const what = master ? `acts as master (epoch ${h.epoch})` : `has a primary grant running until ${grantEnd?.toFixed(1)} (now ${h.localNow().toFixed(1)})`;
  check.violation('master-not-record-holder', h.id, `host ${h.id} ${what} while etcd shows ${shows}`);
}

export function checkRegister(w: World, check: Checker, h: SimHost, epoch: number): void {
  const rec = w.etcd?.model.holderAt(w.now) ?? null;
  if (rec === null || rec.hostId !== h.id) check.violation('register-without-lease', h.id, `epoch ${epoch}: etcd shows ${rec === null ? 'no holder' : `host ${rec.hostId}`}`);
}
