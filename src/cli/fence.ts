// `ycsctl fence status DEVICE`, `ycsctl fence HOST`, `ycsctl unfence`: SCSI-3 persistent
// reservation fencing (docs/fencing.md). `status` reads the device directly. Fencing and
// unfencing act as the local host: with --device they open the devices themselves (no
// daemon needed); through the daemon's control socket once the daemon offers them.
import { hostname } from 'node:os';
import { createInterface } from 'node:readline/promises';
import { YcsError } from '../errors.js';
import { formatKey } from '../fence/cdb.js';
import type { FenceOutcome } from '../fence/driver.js';
import { MAX_HOST_ID } from '../fence/keys.js';
import { type DeviceAccess, fenceHostDirect, fenceStatus, type StatusReport, unfenceDirect } from '../fence/manual.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, parseCommand, parseIntegerFlag, print, printJson, renderFields, renderTable, usageError, wantsHelp } from './output.js';

const HELP = `Usage: ycsctl fence status DEVICE [--json] [--cluster-uuid UUID] [--initiator IQN]
       ycsctl fence HOST --device DEVICE... --host-id ID [--yes] [--cluster-uuid UUID]
                         [--initiator IQN] [--isid HEX]
       ycsctl unfence --device DEVICE... --host-id ID --force [--cluster-uuid UUID]
                      [--initiator IQN] [--isid HEX]

status   registered keys and the host each belongs to, the reservation holder and
         type, and the PR generation. The cluster UUID comes from the voting disk
         header on DEVICE unless --cluster-uuid gives it (data LUNs).
HOST     evict host HOST at the storage: PREEMPT AND ABORT of its key (PREEMPT where
         the target lacks it), then verify the key is gone. Acts as the local host
         (--host-id), which must hold the reservation; never fences the local host.
         Asks for confirmation on a terminal; needs --yes otherwise.
unfence  register the local host again. Normally the daemon does this when the
         cluster admits the host; --force does it now, for when the daemon is down.

DEVICE is a SCSI disk (/dev/sdX, /dev/sgN, /dev/mapper/NAME), another block device
(kernel PR ioctls) or an iscsi://host[:port]/IQN/LUN URL. For fence/unfence on
iscsi:// give the local host's --initiator (and --isid if it is pinned), so the
command uses the host's own I_T nexus.`;

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

// ---------------------------------------------------------------- status

async function status(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, {
    json: { type: 'boolean' },
    'cluster-uuid': { type: 'string' },
    initiator: { type: 'string' },
  }, ['DEVICE']);
  const device = positionals[0]!;
  const access: DeviceAccess = { initiatorIqn: values.initiator ?? defaultStatusInitiator() };
  const report = await fenceStatus(device, values['cluster-uuid'], access);
  if (values.json) printJson(statusJson(report));
  else print(statusText(report));
  return EXIT_OK;
}

function owner(hostId: number | null): string {
  return hostId === null ? 'foreign' : String(hostId);
}

function statusJson(r: StatusReport): unknown {
  return {
    device: r.device,
    transport: r.transport,
    clusterUuid: r.clusterUuid,
    generation: r.generation,
    reservation: r.reservation ? { key: formatKey(r.reservation.key), hostId: r.reservation.hostId, type: r.reservation.type, typeName: r.reservation.typeName } : null,
    registrations: (r.registrations ?? []).map((g) => ({ key: formatKey(g.key), hostId: g.hostId, count: g.count })),
  };
}

function statusText(r: StatusReport): string {
  const reservation = r.reservation
    ? `host ${owner(r.reservation.hostId)} (${formatKey(r.reservation.key)}), ${r.reservation.typeName}`
    : 'none';
  const fields = renderFields([
    ['Device', r.device],
    ['Transport', r.transport],
    ['Cluster UUID', r.clusterUuid],
    ['Generation', String(r.generation ?? '-')],
    ['Reservation', reservation],
  ]);
  const rows = (r.registrations ?? []).map((g) => [formatKey(g.key), owner(g.hostId), String(g.count)]);
  const table = rows.length === 0 ? 'No registered keys.' : renderTable(['KEY', 'HOST', 'REGISTRATIONS'], rows);
  return `${fields}\n\n${table}`;
}

// ---------------------------------------------------------------- fence HOST / unfence

const LOCAL_OPTIONS = {
  device: { type: 'string', multiple: true },
  'host-id': { type: 'string' },
  'cluster-uuid': { type: 'string' },
  initiator: { type: 'string' },
  isid: { type: 'string' },
  yes: { type: 'boolean' },
  force: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

function localAction(values: { device?: string[]; 'host-id'?: string; 'cluster-uuid'?: string; initiator?: string; isid?: string }) {
  if (values.device === undefined || values.device.length === 0) {
    throw new YcsError('E_DAEMON_DOWN', 'fencing through the daemon is not available yet: give the devices with --device');
  }
  const isid = isidArg(values.isid);
  return {
    paths: values.device,
    localHost: hostIdArg('host-id', values['host-id']),
    ...(values['cluster-uuid'] !== undefined ? { clusterUuid: values['cluster-uuid'] } : {}),
    access: { ...(values.initiator !== undefined ? { initiatorIqn: values.initiator } : {}), ...(isid !== undefined ? { isid } : {}) },
  };
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(`${question} Type 'yes' to continue: `)).trim() === 'yes';
  } finally {
    rl.close();
  }
}

async function fenceHost(hostText: string, argv: string[]): Promise<number> {
  const { values } = parseCommand(argv, LOCAL_OPTIONS, []);
  const victimHost = hostIdArg('HOST', hostText);
  const action = localAction(values);
  if (victimHost === action.localHost) throw new YcsError('E_REFUSED', `refusing to fence the local host (${victimHost})`);
  if (!values.yes) {
    if (!process.stdin.isTTY) throw usageError('fencing needs --yes when standard input is not a terminal');
    if (!(await confirm(`Fence host ${victimHost} on ${action.paths.join(', ')}? Its writes will be refused.`))) {
      process.stderr.write('E_REFUSED: not confirmed; nothing was done\n');
      return EXIT_FAILED;
    }
  }
  const outcome = await fenceHostDirect({ ...action, victimHost });
  if (values.json) printJson(outcomeJson(outcome));
  else print(outcomeText(outcome));
  return EXIT_OK;
}

function outcomeJson(o: FenceOutcome): unknown {
  return o.kind === 'fenced' ? { ...o, victimKey: formatKey(o.victimKey) } : o;
}

function outcomeText(o: FenceOutcome): string {
  if (o.kind === 'not-fenced') return o.reason;
  const lines = o.devices.map((d) => `  ${d.device}: ${d.method}${d.verified ? ', key gone (verified)' : ', not verified (no PR reads on this transport)'}`);
  return [`host ${o.victimHost} fenced (key ${formatKey(o.victimKey)})`, ...lines].join('\n');
}

export async function runUnfence(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    print(HELP);
    return EXIT_OK;
  }
  const { values } = parseCommand(argv, LOCAL_OPTIONS, []);
  const action = localAction(values);
  if (!values.force) {
    throw new YcsError('E_REFUSED', 'unfence re-registers a host only when the cluster admits it: ask the daemon, or give --force when the daemon is down');
  }
  const key = await unfenceDirect(action);
  print(`host ${action.localHost} registered with key ${formatKey(key)} on ${action.paths.join(', ')}`);
  return EXIT_OK;
}
