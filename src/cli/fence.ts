// `ycsctl fence status [DEVICE]`, `ycsctl fence HOST`, `ycsctl unfence`: SCSI-3 persistent
// reservation fencing (docs/fencing.md). Without --device (or DEVICE) they ask the local
// daemon over its control socket, which acts with its own sessions and decides whether
// the local host may (fence: it holds the reservation; unfence: the cluster admits it).
// With --device they open the devices themselves and act as the local host (no daemon
// needed: for when it is down).
import { hostname } from 'node:os';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { callDaemon } from '../control/client.js';
import { CONFIG_DEFAULTS, DEFAULT_CONFIG_PATH } from '../config/index.js';
import { YcsError } from '../errors.js';
import { formatKey } from '../fence/cdb.js';
import { MAX_HOST_ID } from '../fence/keys.js';
import { type DeviceAccess, fenceHostDirect, fenceStatus, unfenceDirect } from '../fence/manual.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, parseCommand, parseIntegerFlag, print, printJson, renderFields, renderTable, usageError, wantsHelp } from './output.js';
import { terminalProgress, withElapsed } from './progress.js';
import { resolveSocketPath } from './status.js';

const HELP = `Usage: ycsctl fence status [DEVICE] [--json] [--socket PATH | --config PATH]
                          [--cluster-uuid UUID] [--initiator IQN]
       ycsctl fence HOST [--yes] [--json] [--socket PATH | --config PATH]
       ycsctl fence HOST --device DEVICE... --host-id ID [--yes] [--json]
                         [--cluster-uuid UUID] [--initiator IQN] [--isid HEX]
       ycsctl unfence [--socket PATH | --config PATH]
       ycsctl unfence --device DEVICE... --host-id ID --force [--cluster-uuid UUID]
                      [--initiator IQN] [--isid HEX]

status   registered keys and the host each belongs to, the reservation holder and
         type, and the PR generation. Without DEVICE: the local daemon's view of every
         fenced device (its host, key and fencing state). With DEVICE: read directly;
         the cluster UUID comes from the voting disk header on DEVICE unless
         --cluster-uuid gives it (data LUNs).
HOST     evict host HOST at the storage: PREEMPT AND ABORT of its key (PREEMPT where
         the target lacks it), then verify the key is gone. Acts as the local host,
         which must hold the reservation (E_NOT_MASTER otherwise); never fences the
         local host. Asks for confirmation on a terminal; needs --yes otherwise.
unfence  register the local host again. The daemon does it when the cluster admits the
         host, and refuses it otherwise; --force with --device does it now, for when
         the daemon is down.

Without --device the command goes to the daemon's control socket: --socket PATH, or
the controlSocket of --config PATH (default ${DEFAULT_CONFIG_PATH} if present, else
${CONFIG_DEFAULTS.controlSocket}). E_DAEMON_DOWN when no daemon answers.

DEVICE is a SCSI disk (/dev/sdX, /dev/sgN, /dev/mapper/NAME), another block device
(kernel PR ioctls) or an iscsi://host[:port]/IQN/LUN URL. For fence/unfence on
iscsi:// give the local host's --initiator (and --isid if it is pinned), so the
command uses the host's own I_T nexus.`;

/** Deadlines for daemon calls: a fence is several PR commands per device, each bounded by the daemon. */
const FENCE_CALL_TIMEOUT_MS = 60_000;
const STATUS_CALL_TIMEOUT_MS = 15_000;

function defaultStatusInitiator(): string {
  return `iqn.2026-11.io.ycs:ycsctl.${hostname().toLowerCase().replace(/[^a-z0-9.-]/g, '-')}`;
}

function hostIdArg(flag: string, text: string | undefined): number {
  if (text === undefined) throw usageError(`missing --${flag}`);
  const id = parseIntegerFlag(flag, text);
  if (id < 1 || id > MAX_HOST_ID) throw new YcsError('E_INVALID_ARGUMENT', `--${flag} must be 1..${MAX_HOST_ID}, got ${id}`);
  return id;
}

function isidArg(text: string | undefined): bigint | undefined {
  if (text === undefined) return undefined;
  if (!/^(0x)?[0-9a-f]{1,12}$/i.test(text)) throw usageError(`--isid needs up to 12 hex digits, got '${text}'`);
  return BigInt(text.startsWith('0x') || text.startsWith('0X') ? text : `0x${text}`);
}

export async function run(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || wantsHelp(argv)) {
    print(HELP);
    return first === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (first === 'status') return status(rest);
  if (/^[0-9]+$/.test(first)) return fenceHost(first, rest);
  throw usageError(`expected 'status' or a host id after 'fence', got '${first}' (see ycsctl fence --help)`);
}

// ---------------------------------------------------------------- what is shown

/** A reservation key as the driver holds it (bigint) or as the daemon sends it (0x hex). */
type Key = bigint | string;

const keyText = (key: Key): string => (typeof key === 'bigint' ? formatKey(key) : key);

/** One device's PR state: read directly (StatusReport) or from the daemon's fence-status. */
interface DeviceView {
  device: string;
  transport: string;
  clusterUuid?: string;
  generation?: number;
  registrations?: Array<{ key: Key; hostId: number | null; count: number }>;
  reservation?: { key: Key; hostId: number | null; type: number; typeName: string } | null;
  error?: { code: string; message: string };
}

/** The daemon's fence-status result (FenceStatus with keys as hex strings). */
interface DaemonFenceStatus {
  driver: 'pr' | 'none';
  hostId: number;
  key?: string;
  state: string;
  devices: DeviceView[];
}

type OutcomeView =
  | { kind: 'fenced'; victimHost: number; victimKeys: Key[]; devices: Array<{ device: string; method: string; verified: boolean }> }
  | { kind: 'not-fenced'; victimHost: number; reason: string };

function owner(hostId: number | null): string {
  return hostId === null ? 'foreign' : String(hostId);
}

function deviceJson(r: DeviceView): unknown {
  return {
    device: r.device,
    transport: r.transport,
    ...(r.clusterUuid !== undefined ? { clusterUuid: r.clusterUuid } : {}),
    generation: r.generation,
    reservation: r.reservation ? { key: keyText(r.reservation.key), hostId: r.reservation.hostId, type: r.reservation.type, typeName: r.reservation.typeName } : null,
    registrations: (r.registrations ?? []).map((g) => ({ key: keyText(g.key), hostId: g.hostId, count: g.count })),
    ...(r.error !== undefined ? { error: r.error } : {}),
  };
}

function deviceText(r: DeviceView): string {
  const reservation = r.reservation
    ? `host ${owner(r.reservation.hostId)} (${keyText(r.reservation.key)}), ${r.reservation.typeName}`
    : 'none';
  const fields = renderFields([
    ['Device', r.device],
    ['Transport', r.transport],
    ...(r.clusterUuid !== undefined ? [['Cluster UUID', r.clusterUuid] as const] : []),
    ...(r.error !== undefined ? [['Error', `${r.error.code}: ${r.error.message}`] as const] : []),
    ['Generation', String(r.generation ?? '-')],
    ['Reservation', reservation],
  ]);
  const rows = (r.registrations ?? []).map((g) => [keyText(g.key), owner(g.hostId), String(g.count)]);
  const table = rows.length === 0 ? 'No registered keys.' : renderTable(['KEY', 'HOST', 'REGISTRATIONS'], rows);
  return `${fields}\n\n${table}`;
}

function daemonStatusText(s: DaemonFenceStatus): string {
  const local = renderFields([
    ['Local host', `${s.hostId}${s.key !== undefined ? ` (key ${s.key})` : ''}`],
    ['Driver', s.driver],
    ['Fence state', s.state],
  ]);
  const devices = s.devices.length === 0 ? ['No fenced devices (driver none).'] : s.devices.map(deviceText);
  return [local, ...devices].join('\n\n');
}

function outcomeText(o: OutcomeView): string {
  if (o.kind === 'not-fenced') return o.reason;
  const lines = o.devices.map((d) => `  ${d.device}: ${d.method}${d.verified ? ', key gone (verified)' : ', not verified (no PR reads on this transport)'}`);
  const keys = o.victimKeys.length === 0 ? 'it held no key' : `key ${o.victimKeys.map(keyText).join(', ')}`;
  return [`host ${o.victimHost} fenced (${keys})`, ...lines].join('\n');
}

function outcomeJson(o: OutcomeView): unknown {
  return o.kind === 'fenced' ? { ...o, victimKeys: o.victimKeys.map(keyText) } : o;
}

// ---------------------------------------------------------------- the daemon's side

function checkDaemonFenceStatus(value: unknown, socketPath: string): DaemonFenceStatus {
  const v = value as Partial<DaemonFenceStatus> | null;
  if (v === null || typeof v !== 'object' || typeof v.hostId !== 'number' || !Array.isArray(v.devices)) {
    throw new YcsError('E_PROTOCOL', `ycs on ${socketPath} answered fence-status with an unexpected shape`);
  }
  return v as DaemonFenceStatus;
}

async function daemonFenceStatus(socketPath: string): Promise<DaemonFenceStatus> {
  return checkDaemonFenceStatus(await callDaemon(socketPath, 'fence-status', {}, STATUS_CALL_TIMEOUT_MS), socketPath);
}

interface DaemonOptions {
  socket?: string;
  config?: string;
}

/** The flags that only make sense when ycsctl opens the devices itself. */
const DIRECT_ONLY = ['host-id', 'cluster-uuid', 'initiator', 'isid'] as const;

/** The control socket, after checking that no flag of the direct (--device) form was given. */
function daemonSocket(values: DaemonOptions & Partial<Record<(typeof DIRECT_ONLY)[number], string>>): string {
  const stray = DIRECT_ONLY.filter((flag) => values[flag] !== undefined);
  if (stray.length > 0) throw usageError(`--${stray.join(', --')} only go with --device (without it the daemon acts with its own sessions)`);
  return resolveSocketPath({ socket: values.socket, config: values.config });
}

// ---------------------------------------------------------------- status

const STATUS_OPTIONS = {
  json: { type: 'boolean' },
  'cluster-uuid': { type: 'string' },
  initiator: { type: 'string' },
  socket: { type: 'string' },
  config: { type: 'string' },
} as const;

/** Like parseCommand, but DEVICE is optional: without it the daemon answers. */
function parseStatusArgs(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: STATUS_OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw usageError((err instanceof Error ? err.message : String(err)).split(/\.\s|\n/)[0]!);
  }
  if (parsed.positionals.length > 1) throw usageError(`unexpected argument '${parsed.positionals[1]!}'`);
  return { values: parsed.values, device: parsed.positionals[0] };
}

async function status(argv: string[]): Promise<number> {
  const { values, device } = parseStatusArgs(argv);
  if (device === undefined) {
    const s = await daemonFenceStatus(daemonSocket(values));
    if (values.json) printJson({ ...s, devices: s.devices.map(deviceJson) });
    else print(daemonStatusText(s));
    return EXIT_OK;
  }
  if (values.socket !== undefined || values.config !== undefined) throw usageError('--socket and --config ask the daemon: leave out DEVICE');
  const access: DeviceAccess = { iscsiInitiatorIqn: values.initiator ?? defaultStatusInitiator() };
  const report = await fenceStatus(device, values['cluster-uuid'], access);
  if (values.json) printJson(deviceJson(report));
  else print(deviceText(report));
  return EXIT_OK;
}

// ---------------------------------------------------------------- fence HOST / unfence

const ACTION_OPTIONS = {
  device: { type: 'string', multiple: true },
  'host-id': { type: 'string' },
  'cluster-uuid': { type: 'string' },
  initiator: { type: 'string' },
  isid: { type: 'string' },
  socket: { type: 'string' },
  config: { type: 'string' },
  yes: { type: 'boolean' },
  force: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

type ActionValues = ReturnType<typeof parseCommand<typeof ACTION_OPTIONS>>['values'];

function directAction(values: ActionValues) {
  if (values.socket !== undefined || values.config !== undefined) throw usageError('--socket and --config ask the daemon: leave out --device');
  const isid = isidArg(values.isid);
  return {
    paths: values.device ?? [],
    localHost: hostIdArg('host-id', values['host-id']),
    ...(values['cluster-uuid'] !== undefined ? { clusterUuid: values['cluster-uuid'] } : {}),
    access: { ...(values.initiator !== undefined ? { iscsiInitiatorIqn: values.initiator } : {}), ...(isid !== undefined ? { iscsiIsid: isid } : {}) },
  };
}

const isDirect = (values: ActionValues): boolean => values.device !== undefined && values.device.length > 0;

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(`${question} Type 'yes' to continue: `)).trim() === 'yes';
  } finally {
    rl.close();
  }
}

/** --yes, or 'yes' typed on a terminal; false when the operator declined. */
async function confirmed(values: ActionValues, question: () => string): Promise<boolean> {
  if (values.yes) return true;
  if (!(await confirm(question()))) {
    process.stderr.write('E_REFUSED: not confirmed; nothing was done\n');
    return false;
  }
  return true;
}

async function fenceHost(hostText: string, argv: string[]): Promise<number> {
  const { values } = parseCommand(argv, ACTION_OPTIONS, []);
  const victimHost = hostIdArg('HOST', hostText);
  if (!values.yes && !process.stdin.isTTY) throw usageError('fencing needs --yes when standard input is not a terminal');
  let outcome: OutcomeView;
  if (isDirect(values)) {
    const action = directAction(values);
    if (victimHost === action.localHost) throw new YcsError('E_REFUSED', `refusing to fence the local host (${victimHost})`);
    if (!(await confirmed(values, () => `Fence host ${victimHost} on ${action.paths.join(', ')}? Its writes will be refused.`))) return EXIT_FAILED;
    const progress = terminalProgress();
    outcome = await fenceHostDirect({ ...action, victimHost, onStep: (text) => progress.show(text) }).finally(() => progress.done());
  } else {
    const socketPath = daemonSocket(values);
    // Asking first finds a stopped daemon and the local host id before any prompt.
    const local = await daemonFenceStatus(socketPath);
    if (victimHost === local.hostId) throw new YcsError('E_REFUSED', `refusing to fence the local host (${victimHost})`);
    const devices = local.devices.map((d) => d.device).join(', ') || 'no devices';
    if (!(await confirmed(values, () => `Fence host ${victimHost} on ${devices}? Its writes will be refused.`))) return EXIT_FAILED;
    const call = callDaemon(socketPath, 'fence', { host: victimHost }, FENCE_CALL_TIMEOUT_MS);
    outcome = (await withElapsed(terminalProgress(), `fencing host ${victimHost} on ${devices} through the daemon`, call)) as OutcomeView;
  }
  if (values.json) printJson(outcomeJson(outcome));
  else print(outcomeText(outcome));
  return outcome.kind === 'fenced' ? EXIT_OK : EXIT_FAILED;
}

export async function runUnfence(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    print(HELP);
    return EXIT_OK;
  }
  const { values } = parseCommand(argv, ACTION_OPTIONS, []);
  if (!isDirect(values)) {
    if (values.force) throw usageError('--force acts on the devices directly: give --device DEVICE... --host-id ID');
    const socketPath = daemonSocket(values);
    const call = callDaemon(socketPath, 'unfence', {}, FENCE_CALL_TIMEOUT_MS);
    const s = checkDaemonFenceStatus(await withElapsed(terminalProgress(), 'registering the local host', call), socketPath);
    if (values.json) printJson({ ...s, devices: s.devices.map(deviceJson) });
    else print(`host ${s.hostId} registered with key ${s.key ?? '-'} on ${s.devices.map((d) => d.device).join(', ') || 'no devices (driver none)'}`);
    return EXIT_OK;
  }
  const action = directAction(values);
  if (!values.force) {
    throw new YcsError('E_REFUSED', 'unfence re-registers a host only when the cluster admits it: ask the daemon (leave out --device), or give --force when the daemon is down');
  }
  const key = await unfenceDirect(action);
  print(`host ${action.localHost} registered with key ${formatKey(key)} on ${action.paths.join(', ')}`);
  return EXIT_OK;
}
