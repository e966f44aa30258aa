import { describe, expect, it } from 'vitest';
import { YcsError } from '../../src/errors.js';
import { DEFAULT_BASE_TIMEOUTS, clientReconnectCapMs, deriveTimeouts, monitorHealthWindowMs, ownClockForRealMs, realUpperMs, reconnectWaitMs } from '../../src/core/timeouts.js';

describe('timeouts', () => {
  it('derives the defaults with the documented targets', () => {
    const t = deriveTimeouts();
    expect(t.diskHbKeepAliveMs).toBe(DEFAULT_BASE_TIMEOUTS.diskHbKeepAliveMs);
    // a 1 s stall of the event loop or of one I/O fits in the master's window
    expect(t.leaseMs).toBeGreaterThanOrEqual(t.diskHbIntervalMs + t.slowSpikeMs);
    expect(t.diskIoDeadlineMs).toBeGreaterThan(t.slowSpikeMs);
    // the master stops before a reader's keep-alive can expire, even with drift
    expect(ownClockForRealMs(realUpperMs(t.leaseMs, t.clockDriftRho), t.clockDriftRho)).toBeLessThan(t.diskHbKeepAliveMs);
    // the promoter's wait covers the old master's window on any clock within the drift bound
    expect(t.selfFenceWaitMs / (1 + t.clockDriftRho)).toBeGreaterThanOrEqual(t.leaseMs / (1 - t.clockDriftRho));
    expect(t.nominalFailoverMs).toBeLessThanOrEqual(5000);
    expect(t.livenessBoundMs).toBeGreaterThan(t.nominalFailoverMs);
  });

  it('accepts a faster and a slower valid configuration', () => {
    expect(() => deriveTimeouts({ diskHbIntervalMs: 100, networkHbIntervalMs: 100, diskHbKeepAliveMs: 1500, networkHbTimeoutMs: 1500, slowSpikeMs: 500, ioMarginMs: 150 })).not.toThrow();
    expect(() => deriveTimeouts({ diskHbIntervalMs: 500, diskHbKeepAliveMs: 5000, networkHbTimeoutMs: 3000, clockDriftRho: 0.02 })).not.toThrow();
  });

  it.each([
    ['a keep-alive shorter than the master window', { diskHbKeepAliveMs: 1500 }],
    ['a keep-alive that a 1 s stall would exceed', { diskHbIntervalMs: 400, diskHbKeepAliveMs: 2040 }],
    ['a network timeout a stall would exceed', { networkHbTimeoutMs: 1200 }],
    ['an absurd drift bound', { clockDriftRho: 0.2 }],
    ['a negative interval', { diskHbIntervalMs: -1 }],
    ['a non-number', { slowSpikeMs: Number.NaN }],
  ])('refuses %s with E_CONFIG', (_name, base) => {
    try {
      deriveTimeouts(base);
      expect.unreachable('should throw');
    } catch (err) {
      expect(err).toBeInstanceOf(YcsError);
      expect((err as YcsError).code).toBe('E_CONFIG');
    }
  });
});

describe('timing outside the engine, derived here', () => {
  it('the tick stays well inside the pause bound, also at the smallest interval', () => {
    const t = deriveTimeouts();
    expect(t.tickIntervalMs).toBe(50);
    expect(t.tickIntervalMs).toBeLessThan(t.pauseBoundMs);
    const fast = deriveTimeouts({ diskHbIntervalMs: 100, networkHbIntervalMs: 100, diskHbKeepAliveMs: 1500, networkHbTimeoutMs: 1500, slowSpikeMs: 500, ioMarginMs: 150 });
    expect(fast.tickIntervalMs).toBe(20);
    expect(deriveTimeouts({ diskHbIntervalMs: 10, networkHbIntervalMs: 10, slowSpikeMs: 500 }).tickIntervalMs).toBe(2);
  });

  it('retries, ycsm\'s health window and the client\'s reconnect cap', () => {
    const t = deriveTimeouts();
    expect(t.resourceRetryMs).toBe(t.networkHbTimeoutMs);
    expect(t.fenceRetryMs).toBe(t.networkHbTimeoutMs);
    expect(monitorHealthWindowMs(t)).toBe(1000);
    expect(monitorHealthWindowMs(t)).toBeLessThan(t.diskHbKeepAliveMs);
    // a database reconnects within one cap, which fits the daemon's reconnect wait
    expect(clientReconnectCapMs(200)).toBe(1600);
    expect(clientReconnectCapMs(200)).toBeLessThan(reconnectWaitMs(t));
  });
});
