// The ycs daemon: wires the pure engine (src/core) to its I/O shells. Data flows one way:
// shell -> input -> engine.step -> outputs -> shells, carried out in order (docs/daemon.md).
//
//   inputs:  tick timer, disk completions, network heartbeat 1, heartbeat 2 and agent
//            results, fence results, shutdown (signal or control socket)
//   outputs: disk I/O (DiskShell), UDP heartbeats (UdpTransport), fencing (FenceShell),
//            resource actions (ResourceStack), role changes and logs (pino), exit
//
// Inputs that arrive while a step runs (a shell answering synchronously) are queued and
// stepped right after, so the engine never runs re-entrantly and sees time only grow.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createEngine, type Engine } from '../core/engine.js';
import { createStoreEngine } from '../core/store-engine.js';
import type { Input, Output } from '../core/types.js';
import { monitorHealthWindowMs } from '../core/timeouts.js';
import { statusFromView, type StatusResult } from '../core/view.js';
import { startHttp, type HttpListener } from '../metrics/http.js';
import { EventRing } from '../metrics/events.js';
import { DaemonMetrics } from '../metrics/metrics.js';
import { YcsError, toYcsError } from '../errors.js';
import { startMonitorHeartbeat, type MonitorHeartbeat } from '../monitor/ycs-side.js';
import { UdpTransport, loadClusterKey, type NetStats } from '../net/index.js';
import type { VotingDisk } from '../disk/voting-disk.js';
import { startResources, type ResourceStack } from '../resource/index.js';
import { daemonCommands } from './commands.js';
import type { Config, EtcdConfig } from '../config/index.js';
import { LoopLag, type LagFigures } from '../metrics/loop-lag.js';
import { ControlServer } from './control.js';
import { DiskShell, openVotingDisks, readStartState } from './disk-shell.js';
import { FenceShell } from './fence-shell.js';
import { StoreShell, nextLocalIncarnation, storeClusterUuid } from './store-shell.js';
import type { DaemonLoggers } from './logger.js';

/** After a shutdown request, give up waiting for the engine's 'exit' after this long. */
const STOP_GRACE_MS = 5_000;

export interface DaemonParts {
  engine: Engine;
  incarnation: number;
  clusterUuid: string;
  disks: DiskShell;
  store: StoreShell;
  fence: FenceShell;
  transport: UdpTransport;
  resources: ResourceStack;
  control: ControlServer;
  monitor: MonitorHeartbeat;
  metrics: DaemonMetrics;
  events: EventRing;
  http: HttpListener;
}

/** The shared heartbeat-2 socket, for resources without their own `socket` (the config gives each one). */
export function hb2SocketPath(config: Config): string {
  return join(config.runDir, 'hb2.sock');
}

export class Daemon {
  private parts: Partial<DaemonParts> = {};
  private readonly queue: Input[] = [];
  private stepping = false;
  /** The engine accepts nothing before 'start'; inputs that come earlier wait here. */
  private started = false;
  private readonly early: Input[] = [];
  private lastNowMs = 0;
  private lastStepAtMs = 0;
  private tickTimer: NodeJS.Timeout | undefined;
  /** This process's event-loop lag by two measures, in 10 s windows (the last full window is reported). */
  private loopLag: LoopLag | undefined;
  private stopTimer: NodeJS.Timeout | undefined;
  private stopRequested = false;
  private finishing = false;
  private resolveExit!: (code: number) => void;
  /** Resolves with the process exit code once everything is closed. */
  readonly exited: Promise<number> = new Promise((resolve) => (this.resolveExit = resolve));

  private constructor(
    readonly config: Config,
    private readonly loggers: DaemonLoggers,
  ) {}

  /** Opens every part (closing what was opened if one fails), then feeds the engine 'start'. */
  static async start(config: Config, loggers: DaemonLoggers): Promise<Daemon> {
    const daemon = new Daemon(config, loggers);
    try {
      await daemon.open();
    } catch (err) {
      await daemon.closeParts();
      throw err;
    }
    daemon.started = true;
    daemon.feed({ kind: 'start', nowMs: daemon.now() });
    // What arrived while the parts opened (a peer's heartbeat, a database reconnecting).
    for (const input of daemon.early.splice(0)) daemon.feed(input);
    daemon.tickTimer = setInterval(() => daemon.feed({ kind: 'tick', nowMs: daemon.now() }), config.timeouts.tickIntervalMs);
    daemon.loopLag = new LoopLag();
    return daemon;
  }

  private now(): number {
    return performance.now();
  }

  private async open(): Promise<void> {
    const { config, loggers } = this;
    const p = this.parts;
    const key = loadClusterKey(config.keyFile);
    const { epochFloor } = config.etcd === null ? await this.openDiskMode() : await this.openStoreMode(config.etcd);
    if (p.incarnation === undefined) throw new YcsError('E_INTERNAL', 'no incarnation after opening the arbitration');
    const incarnation = p.incarnation;
    const self = config.hosts.find((h) => h.id === config.hostId);
    if (self === undefined) throw new YcsError('E_CONFIG', `host ${config.hostId} is not in hosts`);
    p.transport = await UdpTransport.open({
      cluster: config.cluster,
      selfId: config.hostId,
      incarnation,
      bindAddress: self.address,
      bindPort: self.port,
      peers: config.hosts,
      key,
      onHeartbeat: (message) => this.feed({ kind: 'net-heartbeat', nowMs: this.now(), message }),
      logger: loggers.of('net'),
    });
    p.resources = await this.openResources();
    p.control = await ControlServer.start({
      socketPath: config.controlSocket,
      group: config.controlGroup,
      socketMode: config.controlSocketPublic ? 0o666 : 0o660,
      commands: daemonCommands(this.commandTarget()),
      logger: loggers.of('control'),
    });
    const resources = p.resources;
    const healthyWithinMs = monitorHealthWindowMs(config.timeouts);
    if (config.http !== null) {
      p.metrics = new DaemonMetrics({ status: () => this.status() }, config.cluster, config.hostId, config.resources.map((r) => r.name));
      const events = (p.events = new EventRing(config.hostId, config.resources.map((r) => r.name)));
      p.http = await startHttp({ ...config.http, metrics: p.metrics, status: () => this.status(), events: () => events.recent(), stepping: () => this.now() - this.lastStepAtMs < healthyWithinMs, logger: loggers.of('http') });
    }
    p.monitor = startMonitorHeartbeat({
      managedPids: () => resources.managedPids(),
      role: () => this.need('engine').view().role,
      // A wedged engine must stop the beat so ycsm kills us (and our databases).
      isHealthy: () => this.now() - this.lastStepAtMs < healthyWithinMs,
      onLost: (why) => loggers.of('monitor').warn({ why }, 'lost the local heartbeat channel to ycsm'),
    });
    loggers.of('daemon').info(
      { incarnation: p.incarnation, epochFloor, clusterUuid: p.clusterUuid, arbitration: config.arbitration, disks: config.votingDisks, etcd: config.etcd?.endpoints, fencing: config.fencing, controlSocket: config.controlSocket, ycsm: p.monitor.active },
      `ycs host ${config.hostId} of cluster '${config.cluster}' started with incarnation ${p.incarnation}`,
    );
  }

  /** The fence shell over `disks` and the data disks; it asks the engine before each PREEMPT. */
  private openFenceShell(clusterUuid: string, disks: VotingDisk[]): Promise<FenceShell> {
    return FenceShell.open({
      config: this.config, clusterUuid, disks, feed: (i) => this.feed(i), now: () => this.now(), log: this.loggers.of('fence'),
      fenceWanted: (victim, epoch) => this.parts.engine?.fenceWanted(victim, epoch) ?? false,
      mayPreempt: (keyEpoch, fenceEpoch) => this.parts.engine?.mayPreempt(keyEpoch, fenceEpoch) ?? false,
    });
  }

  /** Disk mode: the voting disks, the fence shell over them and the data disks, the Disk Paxos engine. */
  private async openDiskMode(): Promise<{ epochFloor: number }> {
    const { config, loggers } = this;
    const p = this.parts;
    const { disks, clusterUuid } = await openVotingDisks(config, loggers.of('disk'));
    p.clusterUuid = clusterUuid;
    p.disks = new DiskShell({ disks, feed: (i) => this.feed(i), now: () => this.now(), log: loggers.of('disk') });
    const start = await readStartState(disks, config.hostId, join(config.runDir, 'incarnation'));
    p.incarnation = start.incarnation;
    p.fence = await this.openFenceShell(clusterUuid, disks);
    p.engine = createEngine({
      hostId: config.hostId,
      hostIds: config.hosts.map((h) => h.id),
      diskCount: disks.length as 1 | 3 | 5,
      resources: config.resources.map((r) => r.name),
      heartbeat2Required: config.resources.map((r) => r.heartbeat2 === 'required'),
      timeouts: config.timeouts,
      incarnation: p.incarnation,
      epochFloor: start.epochFloor,
      fencing: p.fence.engineMode,
      // The fence shell's devices: the voting disks, then the data disks (register and reserve both).
      fenceDeviceCount: disks.length + config.dataDisks.length,
    });
    return start;
  }

  /** etcd mode: the store shell, the fence shell over the data disks, the store engine. */
  private async openStoreMode(etcd: EtcdConfig): Promise<{ epochFloor: number }> {
    const { config, loggers } = this;
    const p = this.parts;
    p.clusterUuid = storeClusterUuid(config.cluster, etcd.prefix);
    p.incarnation = nextLocalIncarnation(join(config.runDir, 'incarnation'));
    p.store = new StoreShell(etcd, (i) => this.feed(i), () => this.now(), loggers.of('etcd'));
    p.fence = await this.openFenceShell(p.clusterUuid, []);
    p.engine = createStoreEngine({
      hostId: config.hostId,
      hostIds: config.hosts.map((h) => h.id),
      resources: config.resources.map((r) => r.name),
      heartbeat2Required: config.resources.map((r) => r.heartbeat2 === 'required'),
      timeouts: config.timeouts,
      store: etcd.store,
      incarnation: p.incarnation,
      fencing: p.fence.engineMode,
      fenceDeviceCount: config.dataDisks.length,
    });
    return { epochFloor: 0 };
  }

  private openResources(): Promise<ResourceStack> {
    const { config } = this;
    return startResources({
      resources: config.resources,
      hostId: config.hostId,
      hbSocketPath: hb2SocketPath(config),
      networkHbTimeoutMs: config.timeouts.networkHbTimeoutMs,
      logger: this.loggers.root, // the manager and the hb2 server name their own subsystems
      now: () => this.now(),
      onInput: (input) => this.feed(input),
      onHeartbeat2Timeout: (resource) => this.parts.metrics?.onHeartbeat2Timeout(resource),
    });
  }

  private commandTarget(): Parameters<typeof daemonCommands>[0] {
    const fence = (): FenceShell => this.need('fence');
    return {
      status: () => this.status(),
      shutdown: (reason) => this.requestStop(reason),
      fence: (host) => fence().fenceByOperator(host),
      unfence: () => fence().unfenceByOperator(this.statusView().epoch), // the key of the decided epoch that admits us
      fenceStatus: () => fence().status(),
    };
  }

  private statusView(): StatusResult {
    return statusFromView(this.need('engine').view(), this.config.resources.map((r) => r.name));
  }

  /** What `ycsctl status` shows, plus facts an operator needs when something is off. */
  status(): StatusResult & { cluster: string; arbitration: string; incarnation: number | undefined; stopping: boolean; eventLoopLag: LagFigures | null; eventLoopWakeup: LagFigures | null; net: NetStats | undefined; hb2: unknown } {
    const view = this.statusView();
    return {
      ...view,
      cluster: this.config.cluster,
      arbitration: this.config.arbitration,
      incarnation: this.parts.incarnation,
      stopping: this.stopRequested,
      eventLoopLag: this.loopLag?.timerLag ?? null,
      eventLoopWakeup: this.loopLag?.wakeupDelay ?? null,
      net: this.parts.transport?.stats(),
      hb2: this.parts.resources?.servers.map((server) => server.stats),
    };
  }

  private need<K extends keyof DaemonParts>(key: K): DaemonParts[K] {
    const part = this.parts[key];
    if (part === undefined) throw new YcsError('E_INTERNAL', `daemon part ${key} is not open`);
    return part as DaemonParts[K];
  }

  // ---- the step loop ----------------------------------------------------------------

  /** Queues one input and steps the engine until the queue is empty. Never throws. */
  feed(input: Input): void {
    if (this.finishing) return;
    if (!this.started) {
      this.early.push(input);
      return;
    }
    // Inputs are stamped when created; one created during a step may carry an earlier time.
    this.lastNowMs = Math.max(this.lastNowMs, input.nowMs);
    this.queue.push({ ...input, nowMs: this.lastNowMs });
    if (this.stepping) return;
    this.stepping = true;
    try {
      for (let next = this.queue.shift(); next !== undefined && !this.finishing; next = this.queue.shift()) {
        this.parts.metrics?.onInput(next);
        this.parts.events?.onInput(next);
        const outputs = this.need('engine').step(next);
        this.lastStepAtMs = this.now();
        for (const output of outputs) {
          this.parts.metrics?.onOutput(output, next.nowMs);
          this.parts.events?.onOutput(output);
          this.execute(output);
        }
      }
    } catch (err) {
      // An engine invariant broke (or a shell has a bug): stop at once, leave the rest to
      // ycsm (restart) and the databases' leases (they stop writing when we stop answering).
      this.loggers.of('engine').fatal({ err }, `step failed, exiting: ${(err as Error).message}`);
      void this.finish(1);
    } finally {
      this.stepping = false;
    }
  }

  private execute(output: Output): void {
    const p = this.parts;
    switch (output.kind) {
      case 'store':
        return this.need('store').execute(output);
      case 'read-disk':
      case 'write-heartbeat':
      case 'write-vote':
        return this.need('disks').execute(output);
      case 'send-heartbeat':
        void this.need('transport').send(output.message);
        return;
      case 'register':
      case 'rekey':
      case 'reserve':
      case 'fence':
        return this.need('fence').execute(output);
      case 'resource':
        return this.need('resources').handle(output);
      case 'grant-lease':
        return this.need('resources').grant(output);
      case 'revoke-authority':
        return this.need('resources').revokePrimary(output.reason);
      case 'role-change':
        return this.logRoleChange(output);
      case 'membership':
        return this.logMembership(output);
      case 'log':
        this.loggers.of('engine')[output.level](output.fields ?? {}, output.msg);
        return;
      case 'exit':
        this.loggers.of('daemon').info({ reason: output.reason }, `ycs host ${this.config.hostId} stops: ${output.reason}`);
        void this.finish(0);
    }
  }

  private logRoleChange(o: Extract<Output, { kind: 'role-change' }>): void {
    const fields = { from: o.from, to: o.to, epoch: o.epoch, masterId: o.masterId, reason: o.reason };
    const text = `host ${this.config.hostId} changed role from ${o.from} to ${o.to} at epoch ${o.epoch}: ${o.reason}`;
    this.loggers.of('engine')[o.to === 'evicted' ? 'warn' : 'info']({ event: 'role-change', ...fields }, text);
  }

  /** Evictions and admissions of any host, as the decided member set changes. */
  private logMembership(o: Extract<Output, { kind: 'membership' }>): void {
    const log = this.loggers.of('engine');
    const fields = { epoch: o.epoch, masterId: o.masterId, members: o.members };
    for (const h of o.evicted) log.warn({ event: 'eviction', hostId: h, ...fields }, `host ${h} was evicted from the cluster at epoch ${o.epoch}`);
    for (const h of o.admitted) log.info({ event: 'admission', hostId: h, ...fields }, `host ${h} is a member of the cluster at epoch ${o.epoch}`);
  }

  // ---- stopping ---------------------------------------------------------------------

  /** A normal stop: the engine stops the resources, then emits 'exit'. A second call stops at once. */
  requestStop(reason: string): void {
    const log = this.loggers.of('daemon');
    if (this.stopRequested) {
      log.warn({ reason }, 'second stop request: exiting without waiting for the resources');
      void this.finish(0);
      return;
    }
    this.stopRequested = true;
    const graceMs = STOP_GRACE_MS + Math.max(0, ...this.config.resources.map((r) => r.actionTimeoutMs));
    log.info({ reason, graceMs }, `ycs host ${this.config.hostId} is stopping: ${reason}`);
    this.stopTimer = setTimeout(() => {
      log.error({ graceMs }, `resources did not stop within ${graceMs} ms: exiting anyway`);
      void this.finish(0);
    }, graceMs);
    this.feed({ kind: 'shutdown', nowMs: this.now() });
  }

  private async finish(code: number): Promise<void> {
    if (this.finishing) return;
    this.finishing = true;
    clearInterval(this.tickTimer);
    this.loopLag?.stop();
    clearTimeout(this.stopTimer);
    // ycsm exits after a normal stop only; it restarts us after anything else.
    if (code === 0) await this.parts.monitor?.stopping();
    await this.closeParts();
    this.resolveExit(code);
  }

  private async closeParts(): Promise<void> {
    const p = this.parts;
    const log = this.loggers.of('daemon');
    const steps: Array<[string, (() => Promise<void> | void) | undefined]> = [
      ['control socket', p.control && (() => p.control?.close())],
      ['http listener', p.http && (() => p.http?.close())],
      ['resources', p.resources && (() => p.resources?.close())],
      ['network', p.transport && (() => p.transport?.close())],
      ['fencing', p.fence && (() => p.fence?.close())],
      ['voting disks', p.disks && (() => p.disks?.close())],
      ['etcd', p.store && (() => p.store?.close())],
      ['ycsm channel', p.monitor && (() => p.monitor?.close())],
    ];
    for (const [what, close] of steps) {
      if (close === undefined) continue;
      try {
        await close();
      } catch (err) {
        log.warn({ err: toYcsError(err) }, `closing the ${what} failed`);
      }
    }
  }
}
