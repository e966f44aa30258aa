// Where a failover's time went, from the JSON log lines (pino `time`, wall-clock ms) of
// every host's ycsm/ycs and databases: the first vote trigger anywhere (detection), the
// decision chosen, the decision reaching the new master, its fences, its promotion and its
// database's new role. The host processes all run on this machine, so their wall clocks
// are one clock.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalCluster } from '../../src/demo/cluster.js';
import { parseRecord, type LogRecord } from '../../src/demo/logs.js';

export const PHASES = ['detect', 'vote', 'reach', 'fence', 'gate', 'db'] as const;
export type Phase = (typeof PHASES)[number];

export const PHASE_MEANING: Record<Phase, string> = {
  detect: 'fault to the first "abnormal found, trigger a new vote cycle" on any host',
  vote: 'to "decision chosen" (the Disk Paxos round)',
  reach: 'to "decision adopted" on the new master (it learns the decision)',
  fence: 'to "fenced host N at the storage" on the new master (PR fencing only)',
  gate: 'to "ycs run as primary successfully" (promotion gate: acknowledgements or fences)',
  db: 'to the new master\'s database logging "demo-db is now primary"',
};

/** ycs-kill has no failover: its parts are ycsm's restart and the new ycs taking the role back. */
export const RESTART_PHASES = ['notice', 'delay', 'spawn', 'boot', 'resume'] as const;
export type RestartPhase = (typeof RESTART_PHASES)[number];

export const RESTART_PHASE_MEANING: Record<RestartPhase, string> = {
  notice: 'kill to ycsm\'s "ycs ...: restarting it in N ms"',
  delay: 'ycsm\'s restart delay (the delayMs it logged)',
  spawn: 'the rest until the new ycs\'s first log line (process and node start-up, module loading)',
  boot: 'to the new ycs\'s control socket answering (config, disks, engine start)',
  resume: 'to its status showing role master again',
};

function readLines(path: string): LogRecord[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').map(parseRecord).filter((r): r is LogRecord => r !== undefined);
}

/** Every record of host h (ycsm, ycs and its databases) logged at or after `sinceMs`. */
export function hostRecords(cluster: LocalCluster, h: number, sinceMs: number): LogRecord[] {
  const host = cluster.host(h);
  const files = [host.logPath, ...cluster.resources.map((r) => join(host.runDir, `${r}.log`))];
  return files.flatMap(readLines).filter((r) => r.time >= sinceMs).sort((a, b) => a.time - b.time);
}

function first(records: LogRecord[], test: (r: LogRecord) => boolean): number | undefined {
  return records.find(test)?.time;
}

/** The failover's parts in ms (undefined: that step did not happen or was not logged). */
export function failoverPhases(cluster: LocalCluster, faultWallMs: number, newMaster: number): Partial<Record<Phase, number>> {
  const all = cluster.hosts.flatMap((h) => hostRecords(cluster, h.id, faultWallMs));
  const mine = hostRecords(cluster, newMaster, faultWallMs);
  const detect = Math.min(...all.filter((r) => r.msg === 'abnormal found, trigger a new vote cycle').map((r) => r.time));
  const chosen = Math.min(...all.filter((r) => r.msg === 'decision chosen' && r.masterId === newMaster).map((r) => r.time));
  const adopted = first(mine, (r) => r.msg === 'decision adopted' && r.masterId === newMaster);
  const fenced = first(mine, (r) => /^fenced host \d+ at the storage$/.test(r.msg));
  const primary = first(mine, (r) => r.msg === 'ycs run as primary successfully');
  const db = first(mine, (r) => r.proc === 'demo-db' && r.msg.startsWith('demo-db is now primary'));
  const span = (from: number | undefined, to: number | undefined): number | undefined =>
    from === undefined || to === undefined || !Number.isFinite(from) || !Number.isFinite(to) ? undefined : to - from;
  const afterFence = fenced ?? adopted;
  return {
    detect: span(faultWallMs, detect),
    vote: span(detect, chosen),
    reach: span(chosen, adopted),
    fence: span(adopted, fenced),
    gate: span(afterFence, primary),
    db: span(primary, db),
  };
}

/** ycs-kill's parts: ycsm noticing, the new ycs's first line, its socket answering, master again. */
export function restartPhases(cluster: LocalCluster, killWallMs: number, host: number, oldYcsPid: number, answeredWallMs: number | undefined, masterWallMs: number | undefined): Partial<Record<RestartPhase, number>> {
  const records = hostRecords(cluster, host, killWallMs);
  const noticed = records.find((r) => r.proc === 'ycsm' && r.msg.includes('restarting it in'));
  const notice = noticed?.time;
  const delayMs = typeof noticed?.delayMs === 'number' ? noticed.delayMs : undefined;
  const start = first(records, (r) => r.proc === 'ycs' && r.pid !== oldYcsPid);
  const span = (from: number | undefined, to: number | undefined): number | undefined => (from === undefined || to === undefined ? undefined : to - from);
  return {
    notice: span(killWallMs, notice),
    delay: delayMs,
    spawn: notice === undefined || delayMs === undefined ? undefined : span(notice + delayMs, start),
    boot: span(start, answeredWallMs),
    resume: span(answeredWallMs, masterWallMs),
  };
}
