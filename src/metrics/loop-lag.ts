// The daemon's event-loop lag, in windows of LAG_WINDOW_MS, by two measures (docs/metrics.md):
//   timer   what a 10 ms timer fires late (Node's monitorEventLoopDelay). libuv keeps timers
//           on a millisecond clock read once per loop turn, so a timer that falls due after the
//           loop woke for I/O fires up to 1 ms late with the loop idle: this measure grows with
//           the number of wake-ups, whatever they cost.
//   wakeup  how long an event posted from another thread waits for the loop (the addon's
//           probe, native/loop_probe.cc): the path of every disk answer and agent result, with
//           no clock floor, so it shows what the loop's own work costs the heartbeats.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadNative } from '../native.js';

export interface LagFigures { p50Ms: number; p99Ms: number; maxMs: number }

export interface LoopProbeNative {
  /** take(): the window's figures, all null when no post was answered in it. */
  startLoopProbe(periodMs: number): { take(): ({ count: number } & LagFigures) | { count: 0; p50Ms: null; p99Ms: null; maxMs: null }; stop(): void };
}

export const LAG_WINDOW_MS = 10_000;
const RESOLUTION_MS = 10;

export class LoopLag {
  private readonly timer = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private readonly probe = loadNative<LoopProbeNative>().startLoopProbe(RESOLUTION_MS);
  private readonly roller: NodeJS.Timeout;
  /** The last full window's figures (null before the first one closed). */
  timerLag: LagFigures | null = null;
  wakeupDelay: LagFigures | null = null;

  constructor() {
    this.timer.enable();
    this.roller = setInterval(() => this.roll(), LAG_WINDOW_MS);
  }

  private roll(): void {
    const h = this.timer;
    // The histogram holds the delay of a RESOLUTION_MS timer: the lag is what exceeds it.
    const ms = (ns: number): number => Math.max(0, Math.round(ns / 1e4) / 100 - RESOLUTION_MS);
    this.timerLag = { p50Ms: ms(h.percentile(50)), p99Ms: ms(h.percentile(99)), maxMs: ms(h.max) };
    h.reset();
    const w = this.probe.take();
    const round = (x: number): number => Math.round(x * 100) / 100;
    this.wakeupDelay = w.p50Ms === null ? null : { p50Ms: round(w.p50Ms), p99Ms: round(w.p99Ms), maxMs: round(w.maxMs) };
  }

  stop(): void {
    clearInterval(this.roller);
    this.timer.disable();
    this.probe.stop();
  }
}
