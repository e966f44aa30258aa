// ycsm's core (the seed's YCSM): starts ycs, watches the local heartbeat, and
//  - when the heartbeat is older than DISK_HB_KEEP_ALIVE: SIGKILLs ycs's process group
//    and the database processes ycs reported, then starts ycs again (a hung ycs must not
//    leave a database writing that nobody supervises);
//  - when ycs exits abnormally (a signal or a non-zero code): starts it again, at once the
//    first time within the window (a single crash costs no wait: the daemon is back
//    within node's start-up), then with an exponential backoff, and with a limit (N
//    restarts within a window, then give up);
//  - when ycs exits with 0 (a normal stop): ycsm is done, exit 0;
//  - on requestStop() (SIGTERM to ycsm): forwards SIGTERM to ycs, waits, then exits.
// A ycs crash leaves its databases running on purpose: a ycs back within the timeouts
// should find them and not cause a failover.
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { YcsError } from '../errors.js';
import { LineSplitter } from '../net/lines.js';
import { YCSM_FD_ENV, YCSM_INTERVAL_ENV, decodeMonitorMessage, processStartTime } from './channel.js';
import type { ManagedPid } from './channel.js';

export interface SupervisorOptions {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** DISK_HB_KEEP_ALIVE: the local heartbeat timeout. */
  keepaliveMs: number;
  /** Beat interval asked of ycs (default keepalive / 5). */
  heartbeatIntervalMs?: number;
  /** Extra time for the first beat after a start (default 10 s: a loaded host starts node slowly). */
  startupGraceMs?: number;
  maxRestarts?: number;
  restartWindowMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** After a forwarded SIGTERM, SIGKILL ycs if it has not exited by then. */
  stopTimeoutMs?: number;
  logger: Logger;
  /** Told whenever the role ycs reports changes (systemd's READY and STATUS). */
  onRole?: (role: string) => void;
}

/** Exit status of ycsm when it gave up on a crash-looping ycs (systemd must not restart it). */
export const EXIT_RESTART_LIMIT = 3;

export interface SupervisorOutcome {
  exitCode: 0 | typeof EXIT_RESTART_LIMIT;
  reason: string;
  /** Set when ycsm gave up (E_RESTART_LIMIT). */
  error?: YcsError;
}

export const SUPERVISOR_DEFAULTS = {
  maxRestarts: 5,
  restartWindowMs: 60_000,
  backoffBaseMs: 500,
  backoffMaxMs: 16_000,
  stopTimeoutMs: 30_000,
  startupGraceMs: 10_000,
} as const;

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is already gone
  }
}

export class Supervisor {
  private readonly log: Logger;
  private readonly settings: Required<Omit<SupervisorOptions, 'env' | 'logger' | 'onRole'>>;
  private child: ChildProcess | undefined;
  private deadlineMs = 0;
  private lastCheckMs = 0;
  private managed: ManagedPid[] = [];
  private role: string | undefined;
  private readonly onRole: ((role: string) => void) | undefined;
  private killedForTimeout = false;
  private stopAnnounced = false;
  private startedAtMs = 0;
  private beating = false;
  private stopRequested = false;
  private restartTimesMs: number[] = [];
  private checkTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopTimer: NodeJS.Timeout | undefined;
  private resolveRun: ((outcome: SupervisorOutcome) => void) | undefined;
  /** Times ycs was started; for tests and the log. */
  starts = 0;

  constructor(private readonly opts: SupervisorOptions) {
    this.log = opts.logger.child({ subsystem: 'ycsm' });
    this.onRole = opts.onRole;
    this.settings = {
      command: opts.command,
      args: opts.args,
      keepaliveMs: opts.keepaliveMs,
      heartbeatIntervalMs: opts.heartbeatIntervalMs ?? Math.max(10, Math.floor(opts.keepaliveMs / 5)),
      startupGraceMs: opts.startupGraceMs ?? SUPERVISOR_DEFAULTS.startupGraceMs,
      maxRestarts: opts.maxRestarts ?? SUPERVISOR_DEFAULTS.maxRestarts,
      restartWindowMs: opts.restartWindowMs ?? SUPERVISOR_DEFAULTS.restartWindowMs,
      backoffBaseMs: opts.backoffBaseMs ?? SUPERVISOR_DEFAULTS.backoffBaseMs,
      backoffMaxMs: opts.backoffMaxMs ?? SUPERVISOR_DEFAULTS.backoffMaxMs,
      stopTimeoutMs: opts.stopTimeoutMs ?? SUPERVISOR_DEFAULTS.stopTimeoutMs,
    };
  }

  get ycsPid(): number | undefined {
    return this.child?.pid;
  }

  /** Runs until ycs stopped normally, a stop was requested, or the restart limit hit. */
  run(): Promise<SupervisorOutcome> {
    return new Promise((resolve) => {
      this.resolveRun = resolve;
      this.startYcs();
    });
  }

  requestStop(): void {
    if (this.stopRequested) {
      // A second request: the operator does not want to wait.
      if (this.child?.pid !== undefined) signalGroup(this.child.pid, 'SIGKILL');
      return;
    }
    this.stopRequested = true;
    clearTimeout(this.restartTimer);
    const pid = this.child?.pid;
    if (pid === undefined) return this.finish({ exitCode: 0, reason: 'stopped on request' });
    this.log.info({ pid }, 'stop requested: asking ycs to stop normally');
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // it is exiting already; its 'exit' event finishes the run
    }
    this.stopTimer = setTimeout(() => {
      this.log.error({ pid, stopTimeoutMs: this.settings.stopTimeoutMs }, 'ycs did not stop in time: killing it');
      signalGroup(pid, 'SIGKILL');
    }, this.settings.stopTimeoutMs);
  }

  private startYcs(): void {
    this.starts++;
    this.killedForTimeout = false;
    this.stopAnnounced = false;
    this.beating = false;
    this.managed = [];
    const child = spawn(this.settings.command, this.settings.args, {
      detached: true, // own process group: a hung ycs is killed with everything in it
      stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
      env: { ...(this.opts.env ?? process.env), [YCSM_FD_ENV]: '3', [YCSM_INTERVAL_ENV]: String(this.settings.heartbeatIntervalMs) },
    });
    this.child = child;
    const now = performance.now();
    this.startedAtMs = now;
    this.deadlineMs = now + this.settings.keepaliveMs + this.settings.startupGraceMs;
    this.lastCheckMs = now;
    let exited = false;
    const onGone = (code: number | null, signal: NodeJS.Signals | null, spawnError?: string): void => {
      if (exited) return;
      exited = true;
      this.onExit(code, signal, spawnError);
    };
    child.once('error', (err) => {
      if (child.pid === undefined) onGone(null, null, err.message);
    });
    child.once('exit', (code, signal) => onGone(code, signal));
    if (child.pid === undefined) return;
    this.log.info({ pid: child.pid, start: this.starts, command: this.settings.command, args: this.settings.args }, `started ycs (pid ${child.pid})`);
    this.readChannel(child.stdio[3] as Readable);
    const checkEveryMs = Math.min(250, Math.max(10, Math.floor(this.settings.keepaliveMs / 10)));
    this.checkTimer = setInterval(() => this.check(checkEveryMs), checkEveryMs);
  }

  private readChannel(channel: Readable): void {
    const splitter = new LineSplitter(64 * 1024);
    channel.setEncoding('utf8');
    channel.on('error', () => {});
    channel.on('data', (chunk: string) => {
      let lines: string[];
      try {
        lines = splitter.push(chunk);
      } catch (err) {
        // A broken channel: no more beats are read, so ycs is restarted after the keep-alive.
        this.log.error({ err }, `local heartbeat channel from ycs: ${(err as Error).message}; ignoring it from now on`);
        channel.removeAllListeners('data');
        return;
      }
      for (const line of lines) {
        const message = decodeMonitorMessage(line);
        if (message === null) continue;
        if (message.type === 'stopping') {
          this.stopAnnounced = true;
          continue;
        }
        const now = performance.now();
        this.deadlineMs = now + this.settings.keepaliveMs;
        this.managed = message.pids;
        if (message.role !== undefined && message.role !== this.role) {
          this.role = message.role;
          this.onRole?.(message.role);
        }
        if (!this.beating) {
          this.beating = true;
          const startupMs = Math.round(now - this.startedAtMs);
          this.log.info({ pid: this.child?.pid, startupMs }, `first local heartbeat from ycs, ${startupMs} ms after its start`);
        }
      }
    });
  }

  private check(checkEveryMs: number): void {
    const now = performance.now();
    const gapMs = now - this.lastCheckMs;
    this.lastCheckMs = now;
    if (gapMs > checkEveryMs + this.settings.keepaliveMs / 2) {
      // ycsm itself did not run (the whole host was paused): ycs deserves a fresh window
      // to show it runs again, rather than being killed for our own pause.
      this.log.warn({ pausedMs: Math.round(gapMs) }, 'ycsm was not scheduled for a while: extending the ycs deadline');
      this.deadlineMs = Math.max(this.deadlineMs, now + this.settings.keepaliveMs);
      return;
    }
    if (now <= this.deadlineMs || this.killedForTimeout || this.stopRequested) return;
    this.killHungYcs(now);
  }

  private killHungYcs(now: number): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    this.killedForTimeout = true;
    const silentMs = Math.round(now - this.deadlineMs + this.settings.keepaliveMs);
    const victims = this.managed.filter((p) => processStartTime(p.pid) === p.start).map((p) => p.pid);
    this.log.error(
      { pid, silentMs, keepaliveMs: this.settings.keepaliveMs, databasePids: victims },
      `ycs sent no local heartbeat for ${silentMs} ms (DISK_HB_KEEP_ALIVE ${this.settings.keepaliveMs} ms): killing ycs and the databases it manages`,
    );
    signalGroup(pid, 'SIGKILL');
    for (const victim of victims) {
      try {
        process.kill(victim, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null, spawnError?: string): void {
    clearInterval(this.checkTimer);
    clearTimeout(this.stopTimer);
    const pid = this.child?.pid;
    this.child = undefined;
    const how = spawnError !== undefined ? `could not be started (${spawnError})` : signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
    if (this.stopRequested) return this.finish({ exitCode: 0, reason: `ycs ${how} after a stop request` });
    if (this.killedForTimeout) return this.scheduleRestart(`ycs ${how} after its local heartbeat timed out`);
    if (code === 0) {
      const note = this.stopAnnounced ? '' : ' (without announcing a stop)';
      this.log.info({ pid }, `ycs stopped normally${note}: ycsm exits`);
      return this.finish({ exitCode: 0, reason: `ycs stopped normally${note}` });
    }
    this.scheduleRestart(`ycs ${how}`);
  }

  private scheduleRestart(reason: string): void {
    const now = performance.now();
    this.restartTimesMs = this.restartTimesMs.filter((t) => now - t < this.settings.restartWindowMs);
    const recent = this.restartTimesMs.length;
    if (recent >= this.settings.maxRestarts) {
      const error = new YcsError(
        'E_RESTART_LIMIT',
        `ycs needed ${recent} restarts within ${this.settings.restartWindowMs} ms; giving up (last: ${reason})`,
      );
      this.log.error({ code: error.code, restarts: recent, windowMs: this.settings.restartWindowMs }, error.message);
      return this.finish({ exitCode: EXIT_RESTART_LIMIT, reason: error.message, error });
    }
    const delayMs = recent === 0 ? 0 : Math.min(this.settings.backoffBaseMs * 2 ** (recent - 1), this.settings.backoffMaxMs);
    this.restartTimesMs.push(now);
    this.log.warn(
      { reason, delayMs, restart: recent + 1, maxRestarts: this.settings.maxRestarts },
      `${reason}: restarting it in ${delayMs} ms`,
    );
    this.restartTimer = setTimeout(() => this.startYcs(), delayMs);
  }

  private finish(outcome: SupervisorOutcome): void {
    clearInterval(this.checkTimer);
    clearTimeout(this.restartTimer);
    clearTimeout(this.stopTimer);
    const resolve = this.resolveRun;
    this.resolveRun = undefined;
    resolve?.(outcome);
  }
}
