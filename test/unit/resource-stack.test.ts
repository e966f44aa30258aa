// The resource stack end to end with real processes: startResources() running the demo
// database through its shell agent (packaging/agents/demo-db-agent.sh); the database
// links the client library and writes only while primary with a valid lease.
// Needs the compiled demo database: `npm run build:ts` first (npm test does).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Input } from '../../src/core/types.js';
import { startResources, type ResourceStack } from '../../src/resource/index.js';
import { scratchDir } from '../helpers/loop.js';
import { waitFor as pollUntil } from '../helpers/wait.js';

const root = resolve(import.meta.dirname, '../..');
const demoDb = join(root, 'dist/scripts/demo-db.js');
const agent = join(root, 'packaging/agents/demo-db-agent.sh');

let scratch: { dir: string; remove(): void };
let stack: ResourceStack | undefined;
let inputs: Array<{ input: Input; atMs: number }>;

beforeAll(() => {
  if (!existsSync(demoDb)) throw new Error(`${demoDb} is missing: run \`npm run build:ts\` first`);
});
beforeEach(() => {
  scratch = scratchDir('ycs-stack-');
  inputs = [];
});
afterEach(async () => {
  await stack?.close();
  stack = undefined;
  const pidFile = join(scratch.dir, 'run/yasdb.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8'));
    try {
      // Only if that pid is still our demo database, never a recycled pid.
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(demoDb)) process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  scratch.remove();
});

const waitFor = (check: () => boolean, timeoutMs = 5_000): Promise<void> => pollUntil(check, timeoutMs, 10);

const dataFile = (): string => join(scratch.dir, 'data');
const dataLines = (): string[] => (existsSync(dataFile()) ? readFileSync(dataFile(), 'utf8').trim().split('\n').filter(Boolean) : []);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const events = (): string[] => inputs.flatMap(({ input }) => (input.kind === 'resource-event' ? [input.event] : []));
const done = (action: string): boolean =>
  inputs.some(({ input }) => input.kind === 'resource-action-done' && input.action === action && input.ok);

let granting: NodeJS.Timeout | undefined;

/** Starts the stack with a stand-in engine that grants a primary lease of `leaseMs` every 50 ms (until close). */
async function start(leaseMs: number, ownSocket = false): Promise<ResourceStack> {
  const s = await startResources({
    resources: [{
      name: 'yasdb',
      ...(ownSocket ? { socket: join(scratch.dir, 'yasdb.sock') } : {}),
      agent,
      monitorIntervalMs: 100,
      actionTimeoutMs: 5_000,
      env: { DEMO_DB_SCRIPT: demoDb, DEMO_DB_DATA: dataFile(), DEMO_DB_RUN: join(scratch.dir, 'run'), NODE: process.execPath },
    }],
    hostId: 2,
    hbSocketPath: join(scratch.dir, 'hb2.sock'),
    networkHbTimeoutMs: 1_000,
    logger: pino({ level: 'silent' }),
    now: () => performance.now(),
    onInput: (input) => inputs.push({ input, atMs: performance.now() }),
  });
  const grant = (): void => s.grant({ kind: 'grant-lease', resource: 0, untilMs: performance.now() + leaseMs, primary: true });
  grant();
  granting = setInterval(grant, 50);
  const close = s.close.bind(s);
  s.close = async () => {
    clearInterval(granting); // ycs is gone: no more grants
    await close();
  };
  stack = s;
  return s;
}

describe('resource stack with the demo database', () => {
  it('starts, promotes, demotes and sees a crash within milliseconds', async () => {
    const s = await start(1_000);
    s.handle({ kind: 'resource', resource: 0, action: 'start', epoch: 1 });
    await waitFor(() => done('start') && events().includes('connected'));
    await sleep(300);
    expect(dataLines()).toEqual([]); // a standby never writes
    expect(s.managedPids()).toHaveLength(1);

    s.handle({ kind: 'resource', resource: 0, action: 'promote', epoch: 2 });
    await waitFor(() => dataLines().length >= 3);
    expect(dataLines()[0]).toBe('epoch=2 host=2 seq=1');

    s.handle({ kind: 'resource', resource: 0, action: 'demote', epoch: 2 });
    await sleep(300); // the push's round trip, and a write already past its check
    const afterDemote = dataLines().length;
    await sleep(400);
    expect(dataLines().length).toBe(afterDemote); // the push stopped the writes at once
    expect(events()).toContain('monitor-ok');

    const [pid] = s.managedPids() as [number];
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    await waitFor(() => events().includes('disconnected'));
    const reportMs = inputs.find(({ input }) => input.kind === 'resource-event' && input.event === 'disconnected')!.atMs - killedAt;
    console.log(`database kill -9 reported to the engine after ${reportMs.toFixed(1)} ms`);
    expect(reportMs).toBeLessThan(250); // milliseconds, not a heartbeat timeout
    await waitFor(() => events().includes('monitor-failed')); // the agent's monitor agrees
  });

  it('keeps a primary writing only until its lease runs out once ycs is gone', async () => {
    const leaseMs = 800;
    const s = await start(leaseMs, true); // a per-resource socket, as the config allows
    s.handle({ kind: 'resource', resource: 0, action: 'start', epoch: 4 });
    s.handle({ kind: 'resource', resource: 0, action: 'promote', epoch: 5 });
    await waitFor(() => dataLines().length >= 3);
    expect(s.servers).toHaveLength(1);
    expect(s.managedPids()).toHaveLength(1); // its hello pid matched SO_PEERCRED
    const goneAt = performance.now();
    await s.close(); // ycs disappears; the database keeps its lease but no more
    stack = undefined;
    const atClose = dataLines().length;
    await sleep(leaseMs + 100);
    const atExpiry = dataLines().length;
    await sleep(400);
    console.log(`lease ${leaseMs} ms: ${atExpiry - atClose} writes after ycs vanished, none after ${Math.round(performance.now() - goneAt)} ms`);
    expect(atExpiry).toBeGreaterThan(atClose); // the lease granted before stays valid...
    expect(dataLines().length).toBe(atExpiry); // ...and nothing is written past it
    expect(dataLines().every((line) => line.startsWith('epoch=5 host=2 '))).toBe(true);
  });
});
