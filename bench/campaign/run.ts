// One campaign: start the cluster, then per fault (kind, target, hold, gap all drawn from
// the seed): wait for a healthy cluster, gap, inject, hold, heal, and wait for a healthy
// cluster again. Timed per fault: writes resumed (fault to the first write acknowledged
// by the agreed master after it) and recovered (fault to healthy again). At the end the
// processes are stopped, and the storage checker judges the data LUN and the ack logs.
import { existsSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FencingDriver } from '../../src/config/index.js';
import { isStatus } from '../../test/helpers/cluster-fixture.js';
import { checkStorage, parseAckLog, readRecords, type CheckResult } from '../../test/campaign/checker.js';
import { Prng } from '../../test/sim/prng.js';
import { HOSTS, startCampaignCluster, type CampaignCluster } from './cluster.js';
import { FAULT_KINDS, type FaultKind } from './faults.js';
import { healAllTables } from './nft.js';
import { Poller, type DualPrimary, type Round } from './poller.js';

export interface CampaignOptions {
  faults: number;
  seed: number;
  kinds?: string[];
  fencing?: FencingDriver;
  timeoutMs?: number;
  /** Every per-host fault hits the master (the negative test). */
  masterOnly?: boolean;
  unsafeDb?: boolean;
  /** Progress lines (stderr by default). */
  log?: (line: string) => void;
}

export interface FaultResult {
  index: number;
  kind: string;
  detail: string;
  masterBefore: number;
  masterAfter: number | undefined;
  /** Fault to the first write acknowledged after it by the final master while agreed master (ms). */
  resumedMs: number | undefined;
  /** Fault to a healthy cluster again (ms); undefined: not healed. */
  recoveredMs: number | undefined;
  error?: string;
}

export interface CampaignResult {
  seed: number;
  faults: FaultResult[];
  storage: CheckResult;
  dualPrimaries: DualPrimary[];
  unhealed: number;
  pollRounds: number;
  wallMs: number;
}

const RECOVERY_TIMEOUT_MS = 90_000;
const HOLD_AFTER_HEALTHY_MS = 1000;

export function replayCommand(o: Pick<CampaignOptions, 'faults' | 'seed' | 'kinds'>): string {
  return `npm run campaign -- --faults ${o.faults} --seed ${o.seed}${o.kinds !== undefined ? ` --kinds ${o.kinds.join(',')}` : ''}`;
}

/** Every host answers, one agreed master with all three members, every database connected. */
function healthyMaster(cc: CampaignCluster, r: Round): number | undefined {
  const m = r.master;
  if (m === undefined || r.statuses.size !== HOSTS.length) return undefined;
  for (const s of r.statuses.values()) {
    if (!isStatus(s) || s.members.length !== HOSTS.length || s.resourceMasters[0] !== m) return undefined;
    if (!s.hosts.every((h) => h.state === 'online' && h.resources[0] === (h.hostId === m ? 'primary' : 'standby'))) return undefined;
  }
  return HOSTS.every((id) => dbConnected(cc, id)) ? m : undefined;
}

function dbConnected(cc: CampaignCluster, hostId: number): boolean {
  const pid = cc.fx.cluster.dbPid(hostId);
  if (pid === undefined) return false;
  const path = `${cc.fx.cluster.host(hostId).runDir}/YasDB.log`;
  const log = existsSync(path) ? readFileSync(path, 'utf8') : '';
  return log.includes(`"pid":${pid},`) && new RegExp(`"pid":${pid},.*"msg":"demo-db is now (standby|primary) at epoch`).test(log);
}

/** Healthy, and the master's database acknowledged a write after `sinceAcks` was taken. */
async function waitHealthy(cc: CampaignCluster, poller: Poller, timeoutMs: number): Promise<number> {
  let mark: { master: number; acks: number } | undefined;
  return poller.waitFor((r) => {
    const m = healthyMaster(cc, r);
    if (m === undefined) return (mark = undefined);
    const acks = r.acks.get(m) ?? 0;
    if (mark === undefined || mark.master !== m) {
      mark = { master: m, acks };
      return undefined;
    }
    return acks > mark.acks ? m : undefined;
  }, timeoutMs, 'a healthy cluster (agreed master, all members, every database connected, the master acknowledging writes)');
}

/**
 * Per host, the time (from the fault) of the first round in which it was the agreed master
 * and had acknowledged a write since `before`: the write outage ends at the final master's.
 */
function watchWrites(poller: Poller, before: Round, t0: number): { firstAck: Map<number, number>; stop(): void } {
  const firstAck = new Map<number, number>();
  let done = false;
  void poller.waitFor((r) => {
    if (done) return true;
    const m = r.master;
    if (m !== undefined && !firstAck.has(m) && (r.acks.get(m) ?? 0) > (before.acks.get(m) ?? 0)) firstAck.set(m, Math.round(performance.now() - t0));
    return undefined;
  }, RECOVERY_TIMEOUT_MS * 3, 'writes resumed').catch(() => undefined);
  return { firstAck, stop: () => { done = true; } };
}

/** Restarts any host whose ycsm exited without the campaign asking (e.g. its restart limit). */
function restartDeadMonitors(cc: CampaignCluster, log: (l: string) => void): void {
  for (const id of HOSTS) {
    const child = cc.fx.cluster.host(id).ycsm;
    if (child !== undefined && (child.exitCode !== null || child.signalCode !== null)) {
      log(`  host ${id}: ycsm had exited (${child.exitCode ?? child.signalCode}); starting it again`);
      cc.fx.cluster.startHost(id);
    }
  }
}

async function oneFault(i: number, kind: FaultKind, cc: CampaignCluster, poller: Poller, prng: Prng, o: Required<Pick<CampaignOptions, 'timeoutMs' | 'masterOnly'>>, log: (l: string) => void): Promise<FaultResult> {
  const masterBefore = await waitHealthy(cc, poller, RECOVERY_TIMEOUT_MS);
  await sleep(HOLD_AFTER_HEALTHY_MS + prng.int(0, 2000));
  const before = poller.latest!;
  const master = before.master ?? masterBefore;
  const target = !kind.perHost || o.masterOnly || prng.chance(0.6) ? master : prng.pick(HOSTS.filter((h) => h !== master));
  const t0 = performance.now();
  poller.fault = `${kind.name} #${i}`;
  const injected = await kind.inject({ cc, poller, prng, timeoutMs: o.timeoutMs, target });
  const writes = watchWrites(poller, before, t0);
  const result: FaultResult = { index: i, kind: kind.name, detail: injected.detail, masterBefore: master, masterAfter: undefined, resumedMs: undefined, recoveredMs: undefined };
  try {
    await sleep(injected.holdMs);
  } finally {
    await injected.heal();
  }
  try {
    result.masterAfter = await waitHealthy(cc, poller, RECOVERY_TIMEOUT_MS);
  } catch (err) {
    restartDeadMonitors(cc, log);
    result.error = String(err instanceof Error ? err.message : err);
    try {
      result.masterAfter = await waitHealthy(cc, poller, RECOVERY_TIMEOUT_MS);
    } catch {
      writes.stop();
      poller.fault = 'none';
      return result;
    }
  }
  result.recoveredMs = Math.round(performance.now() - t0);
  result.resumedMs = writes.firstAck.get(result.masterAfter) ?? result.recoveredMs;
  writes.stop();
  poller.fault = 'none';
  log(`  fault ${i + 1} ${kind.name}: ${injected.detail}; master ${master} -> ${result.masterAfter}; writes resumed ${result.resumedMs} ms, healthy ${result.recoveredMs} ms${result.error !== undefined ? ` (first wait failed: ${result.error})` : ''}`);
  return result;
}

/** Reads the data LUN image and the ack logs (processes stopped) and runs the checker. */
function judge(cc: CampaignCluster): CheckResult {
  const { records, bad } = readRecords(readFileSync(cc.data.backingFile));
  const acked = HOSTS.flatMap((id) => (existsSync(cc.ackLogPath(id)) ? parseAckLog(readFileSync(cc.ackLogPath(id), 'utf8')) : []));
  return checkStorage(records, acked, bad);
}

let current: { cleanup: () => Promise<void> } | undefined;

/** Thaws, heals and stops whatever the running campaign started (SIGINT/SIGTERM, failures). */
export async function cleanupCurrent(): Promise<void> {
  await current?.cleanup();
}

export async function runCampaign(opts: CampaignOptions): Promise<CampaignResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const timeoutMs = opts.timeoutMs ?? 2000;
  const kinds = opts.kinds === undefined ? FAULT_KINDS : opts.kinds.map((n) => FAULT_KINDS.find((k) => k.name === n)!);
  const prng = new Prng(opts.seed);
  const started = performance.now();
  let cc: CampaignCluster | undefined;
  let poller: Poller | undefined;
  let cleaned = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    await poller?.stop();
    healAllTables();
    await cc?.fx.cleanup();
  };
  current = { cleanup };
  try {
    cc = await startCampaignCluster({ fencing: opts.fencing ?? 'iscsi-pr', timeoutMs, unsafeDb: opts.unsafeDb === true });
    poller = new Poller(cc.fx, HOSTS, cc.ackLogPath);
    poller.start();
    const results: FaultResult[] = [];
    for (let i = 0; i < opts.faults; i++) {
      const r = await oneFault(i, prng.pick(kinds), cc, poller, prng, { timeoutMs, masterOnly: opts.masterOnly === true }, log);
      results.push(r);
      if (r.recoveredMs === undefined) {
        log(`  fault ${i + 1} ${r.kind} (${r.detail}) did not heal: ${r.error ?? ''}; stopping the campaign`);
        break;
      }
    }
    await poller.stop();
    for (const id of HOSTS) poller.frozen.delete(id);
    await cc.fx.cluster.stop(); // the databases are gone: nothing is in flight when the LUN is read
    const storage = judge(cc);
    return { seed: opts.seed, faults: results, storage, dualPrimaries: poller.dualPrimaries, unhealed: results.filter((r) => r.recoveredMs === undefined).length + (opts.faults - results.length), pollRounds: poller.rounds, wallMs: Math.round(performance.now() - started) };
  } finally {
    await cleanup();
    current = undefined;
  }
}

export function campaignFailed(r: CampaignResult): boolean {
  return r.storage.violations.length > 0 || r.dualPrimaries.length > 0 || r.unhealed > 0;
}
