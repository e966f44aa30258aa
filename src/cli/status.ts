// `ycsctl status`: the cluster topology as the YCS seed prints it (two tables with the
// same columns, order and dash separators), --json with the same facts, --watch.
// The facts come from the daemon's `status` control command; nothing is read from disk.
import { existsSync } from 'node:fs';
import type { ClusterView, ResourceState } from '../core/types.js';
import type { StatusResult } from '../core/view.js';

export { statusFromView, type StatusResult } from '../core/view.js';
import { callDaemon } from '../control/client.js';
import { CONFIG_DEFAULTS, DEFAULT_CONFIG_PATH, controlSocketOf } from '../config/index.js';
import { YcsError, toYcsError } from '../errors.js';
import { EXIT_OK, parseCommand, parseIntegerFlag, usageError, wantsHelp } from './output.js';

const HELP = `Usage: ycsctl status [--json] [--watch [--interval-ms N] [--count N]]
                     [--socket PATH | --config PATH]

Show the cluster as this host's ycs daemon sees it: this host, the cluster master, the
master of each resource, the number of active hosts, then one row per host.

Options:
  --json            print the same facts as JSON
  --watch           refresh until interrupted (in place on a terminal)
  --interval-ms N   refresh period for --watch (default 1000)
  --count N         with --watch, stop after N refreshes
  --socket PATH     the daemon's control socket
  --config PATH     take the control socket from this config file
                    (default ${DEFAULT_CONFIG_PATH} if present, else ${CONFIG_DEFAULTS.controlSocket})
  -h, --help        show this help`;

/** The seed's separator: a run of dashes at least as wide as the widest line of the block. */
const SEPARATOR_MIN_WIDTH = 89;
/** The seed's host table: every column 10 wide plus a "|" (or a space in data rows). */
const HOST_COLUMN_WIDTH = 10;

function idText(id: number): string {
  return id === 0 ? '-' : String(id);
}

/** online while the resource runs (primary or standby), offline otherwise, as in the seed. */
function resourceText(state: ResourceState | undefined): 'online' | 'offline' {
  return state === 'primary' || state === 'standby' ? 'online' : 'offline';
}

export function activeHostCount(view: ClusterView): number {
  return view.hosts.filter((h) => h.state === 'online').length;
}

/** Header labels joined by "|"; each value starts under its label's first character. */
function summaryTable(view: StatusResult): [string, string] {
  const labels = ['Self Host ID', 'Cluster Master ID', ...view.resources.map((r) => `${r} Master ID`), 'Active Host Count'];
  const values = [
    String(view.selfId),
    idText(view.masterId),
    ...view.resources.map((_, i) => idText(view.resourceMasters[i] ?? 0)),
    String(activeHostCount(view)),
  ];
  const row = values.map((v, i) => v.padEnd((labels[i] ?? '').length + 1)).join('');
  return [labels.join('|'), row];
}

function hostTable(view: StatusResult): string[] {
  const labels = ['Host ID', 'Target', 'State', ...view.resources];
  const widths = labels.map((l) => Math.max(HOST_COLUMN_WIDTH, l.length));
  const header = labels.map((l, i) => (i === labels.length - 1 ? l : l.padEnd(widths[i] ?? 0))).join('|');
  const rows = [...view.hosts]
    .sort((a, b) => a.hostId - b.hostId)
    .map((h) => {
      const cells = [String(h.hostId), h.target, h.state, ...view.resources.map((_, i) => resourceText(h.resources[i]))];
      return cells.map((c, i) => c.padEnd((widths[i] ?? 0) + 1)).join('');
    });
  return [header, ...rows];
}

/** The seed's two tables. Pure: the same view always renders the same text. */
export function renderStatus(view: StatusResult): string {
  const [summaryHeader, summaryRow] = summaryTable(view);
  const [hostHeader = '', ...hostRows] = hostTable(view);
  const visible = [summaryHeader, summaryRow, hostHeader, ...hostRows].map((l) => l.trimEnd().length);
  const width = Math.max(SEPARATOR_MIN_WIDTH, ...visible);
  const dashes = '-'.repeat(width);
  return [dashes, summaryHeader, dashes, summaryRow, dashes, hostHeader, dashes, ...hostRows].join('\n');
}

/**
 * A line under the tables when this host is not (or no longer) part of the cluster, so
 * "daemon up, not joined" reads differently from "daemon down" (E_DAEMON_DOWN). Empty for
 * a standby or the master.
 */
export function roleNote(view: StatusResult): string {
  switch (view.role) {
    case 'starting':
      return 'note: ycs is running on this host but has not joined the cluster yet (role starting)';
    case 'evicted':
      return 'note: this host was evicted; ycs stops its resources and asks to rejoin (role evicted)';
    case 'leaving':
      return 'note: ycs is stopping on this host (role leaving)';
    default:
      return '';
  }
}

function renderWithNote(view: StatusResult): string {
  const note = roleNote(view);
  return note === '' ? renderStatus(view) : `${renderStatus(view)}\n${note}`;
}

/** The --json form: the daemon's facts plus the derived count, with resources by name. */
export function statusJson(view: StatusResult): Record<string, unknown> {
  return {
    selfId: view.selfId,
    role: view.role,
    epoch: view.epoch,
    masterId: view.masterId,
    members: view.members,
    activeHostCount: activeHostCount(view),
    resources: view.resources.map((name, i) => ({ name, masterId: view.resourceMasters[i] ?? 0 })),
    hosts: [...view.hosts]
      .sort((a, b) => a.hostId - b.hostId)
      .map((h) => ({
        hostId: h.hostId,
        target: h.target,
        state: h.state,
        resources: Object.fromEntries(view.resources.map((name, i) => [name, h.resources[i] ?? 'unknown'])),
        ...(h.heartbeatAgeMs !== undefined ? { heartbeatAgeMs: h.heartbeatAgeMs } : {}),
      })),
  };
}

function checkStatusResult(value: unknown, socketPath: string): StatusResult {
  const v = value as Partial<StatusResult> | null;
  const ok =
    v !== null && typeof v === 'object' && typeof v.selfId === 'number' && typeof v.masterId === 'number' &&
    Array.isArray(v.hosts) && Array.isArray(v.resources) && Array.isArray(v.resourceMasters);
  if (!ok) throw new YcsError('E_PROTOCOL', `ycs on ${socketPath} answered status with an unexpected shape`);
  return v as StatusResult;
}

export async function fetchStatus(socketPath: string, timeoutMs = 5000): Promise<StatusResult> {
  return checkStatusResult(await callDaemon(socketPath, 'status', {}, timeoutMs), socketPath);
}

export function resolveSocketPath(options: { socket?: string; config?: string }): string {
  if (options.socket !== undefined && options.config !== undefined) throw usageError('give --socket or --config, not both');
  if (options.socket !== undefined) return options.socket;
  if (options.config !== undefined) return controlSocketOf(options.config);
  return existsSync(DEFAULT_CONFIG_PATH) ? controlSocketOf(DEFAULT_CONFIG_PATH) : CONFIG_DEFAULTS.controlSocket;
}

export interface StatusIo {
  write(text: string): void;
  isTTY: boolean;
  sleep(ms: number): Promise<void>;
  /** Set when the user interrupts --watch. */
  stopped(): boolean;
}

const CLEAR_HOME = '\x1b[H\x1b[2J';

async function watch(socketPath: string, json: boolean, intervalMs: number, count: number | undefined, io: StatusIo): Promise<number> {
  for (let i = 0; (count === undefined || i < count) && !io.stopped(); i++) {
    if (i > 0) await io.sleep(intervalMs);
    if (io.stopped()) break;
    let block: string;
    try {
      const view = await fetchStatus(socketPath, Math.max(1000, intervalMs));
      block = json ? JSON.stringify(statusJson(view)) : renderWithNote(view);
    } catch (err) {
      block = toYcsError(err).toLine(); // keep watching: the daemon may come back
    }
    const stamp = json ? '' : `Every ${intervalMs} ms: ycsctl status    ${new Date().toISOString()}\n\n`;
    io.write(io.isTTY && !json ? `${CLEAR_HOME}${stamp}${block}\n` : `${block}\n${json ? '' : '\n'}`);
  }
  return EXIT_OK;
}

export async function runStatus(argv: string[], io: StatusIo): Promise<number> {
  if (wantsHelp(argv)) {
    io.write(`${HELP}\n`);
    return EXIT_OK;
  }
  const { values } = parseCommand(
    argv,
    {
      json: { type: 'boolean' },
      watch: { type: 'boolean' },
      'interval-ms': { type: 'string' },
      count: { type: 'string' },
      socket: { type: 'string' },
      config: { type: 'string' },
    },
    [],
  );
  const intervalMs = values['interval-ms'] === undefined ? 1000 : parseIntegerFlag('interval-ms', values['interval-ms']);
  if (intervalMs < 100) throw usageError('--interval-ms must be at least 100');
  const count = values.count === undefined ? undefined : parseIntegerFlag('count', values.count);
  if (!values.watch && (values['interval-ms'] !== undefined || count !== undefined)) {
    throw usageError('--interval-ms and --count need --watch');
  }
  const socketPath = resolveSocketPath({ socket: values.socket, config: values.config });
  if (values.watch) return watch(socketPath, values.json === true, intervalMs, count, io);
  const view = await fetchStatus(socketPath);
  io.write(`${values.json ? JSON.stringify(statusJson(view), null, 2) : renderWithNote(view)}\n`);
  return EXIT_OK;
}

/** The command group entry for src/cli/main.ts. */
export async function run(argv: string[]): Promise<number> {
  let interrupted = false;
  let wake: (() => void) | undefined;
  const onSigint = () => {
    interrupted = true;
    wake?.(); // stop --watch at once, not after the current interval
  };
  process.on('SIGINT', onSigint);
  try {
    return await runStatus(argv, {
      write: (text) => process.stdout.write(text),
      isTTY: process.stdout.isTTY === true,
      sleep: (ms) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        }),
      stopped: () => interrupted,
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
}
