// `ycsctl disk init|show|wipe`: operator access to a voting disk with no daemon running.
// Every refusal happens before the first byte is written (see src/disk/voting-disk.ts).
import { existsSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { HeartbeatPayload, SlotRead, VotePayload, Decision } from '../core/types.js';
import { YcsError } from '../errors.js';
import { MAX_HOST_SLOTS, clusterNameProblem, uuidToBytes } from '../disk/layout.js';
import { initVotingDisk, inspectVotingDisk, wipeVotingDisk, type DeviceAccess, type DiskInspection, type InitOptions } from '../disk/voting-disk.js';
import {
  EXIT_OK, EXIT_USAGE, formatBytes, parseCommand, parseIntegerFlag, parseSizeFlag, print, printJson, renderFields, renderTable,
  usageError, wantsHelp,
} from './output.js';
import { bytesProgress, terminalProgress } from './progress.js';

const HELP = `Usage: ycsctl disk <command> DEVICE [options]

DEVICE is a block device (/dev/sdX, /dev/loopN), a regular file or an
iscsi://host[:port]/IQN/LUN URL.

Commands:
  init DEVICE --cluster NAME --hosts N [--disk-index I --disk-count C] [--uuid UUID]
              [--size BYTES] [--force] [--json]
      Write an empty voting disk: header, heartbeat and vote areas for N host slots
      (1..${MAX_HOST_SLOTS}). Disks 2..C of a cluster take --uuid of the first and their
      --disk-index. --size creates DEVICE as a sparse file when it does not exist.
      Refuses an initialized or non-empty disk unless --force.
  show DEVICE [--all] [--json]
      Print the header and the non-empty heartbeat and vote slots; a vote shows the copy
      (A or B) a reader trusts (--all: every slot, and both vote copies' verdicts).
  wipe DEVICE --yes [--force]
      Zero the header and both areas. --force also zeroes a device that does not
      carry a ycs header.

Options:
  --initiator IQN   iSCSI initiator name for iscsi:// devices
                    (default iqn.2026-11.io.ycs:ycsctl.<hostname>)
  -h, --help        show this help`;

export async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || wantsHelp(argv)) {
    print(HELP);
    return command === undefined ? EXIT_USAGE : EXIT_OK;
  }
  switch (command) {
    case 'init':
      return init(rest);
    case 'show':
      return show(rest);
    case 'wipe':
      return wipe(rest);
    default:
      throw usageError(`unknown disk command '${command}' (commands: init, show, wipe; see ycsctl disk --help)`);
  }
}

// ---------------------------------------------------------------- init

function invalidArgument(message: string): YcsError {
  return new YcsError('E_INVALID_ARGUMENT', message);
}

function checkRange(flag: string, value: number, min: number, max: number): number {
  if (value < min || value > max) throw invalidArgument(`--${flag} must be in ${min}..${max}, got ${value}`);
  return value;
}

const isUrl = (path: string) => path.startsWith('iscsi://');

/** ycsctl's iSCSI initiator name unless --initiator gives one (reads need no registration). */
function defaultInitiatorIqn(): string {
  return `iqn.2026-11.io.ycs:ycsctl.${hostname().toLowerCase().replace(/[^a-z0-9.-]/g, '-')}`;
}

function deviceAccess(device: string, initiator: string | undefined): DeviceAccess {
  if (!isUrl(device)) {
    if (initiator !== undefined) throw usageError('--initiator applies only to iscsi:// devices');
    return {};
  }
  return { iscsiInitiatorIqn: initiator ?? defaultInitiatorIqn() };
}

function requireDevice(path: string, hint = ''): void {
  if (!isUrl(path) && !existsSync(path)) throw new YcsError('E_NOT_FOUND', `${path} does not exist${hint}`, { device: path });
}

/** Creates DEVICE as a sparse file for --size; returns a cleanup that removes it again. */
function createSparseFile(path: string, sizeBytes: number): () => void {
  writeFileSync(path, '', { flag: 'wx' });
  truncateSync(path, sizeBytes);
  return () => unlinkSync(path);
}

interface InitRequest {
  device: string;
  options: InitOptions;
  sizeBytes: number | undefined;
  json: boolean;
}

/** Checks every init argument before anything is opened or created. */
function parseInit(argv: string[]): InitRequest {
  const { values, positionals } = parseCommand(argv, {
    cluster: { type: 'string' },
    hosts: { type: 'string' },
    'disk-index': { type: 'string' },
    'disk-count': { type: 'string' },
    uuid: { type: 'string' },
    size: { type: 'string' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
    initiator: { type: 'string' },
  }, ['DEVICE']);
  const device = positionals[0]!;
  if (values.cluster === undefined) throw usageError('init needs --cluster NAME');
  if (values.hosts === undefined) throw usageError('init needs --hosts N');
  const nameProblem = clusterNameProblem(values.cluster);
  if (nameProblem !== undefined) throw invalidArgument(nameProblem);
  const hostSlots = checkRange('hosts', parseIntegerFlag('hosts', values.hosts), 1, MAX_HOST_SLOTS);
  const diskCount = values['disk-count'] === undefined ? 1 : parseIntegerFlag('disk-count', values['disk-count']);
  if (![1, 3, 5].includes(diskCount)) throw invalidArgument(`--disk-count must be 1, 3 or 5, got ${diskCount}`);
  const diskIndex = checkRange('disk-index', values['disk-index'] === undefined ? 1 : parseIntegerFlag('disk-index', values['disk-index']), 1, diskCount);
  if (diskIndex > 1 && values.uuid === undefined) throw usageError(`disk ${diskIndex} of a cluster needs --uuid of the cluster's first disk`);
  if (values.uuid !== undefined) uuidToBytes(values.uuid); // E_INVALID_ARGUMENT before any file is created
  const sizeBytes = values.size === undefined ? undefined : parseSizeFlag('size', values.size);
  if (sizeBytes !== undefined && isUrl(device)) throw usageError('--size creates a regular file; it cannot be used with an iscsi:// device');
  const options: InitOptions = {
    ...deviceAccess(device, values.initiator),
    clusterName: values.cluster, hostSlots, diskIndex, diskCount, force: values.force ?? false,
    ...(values.uuid === undefined ? {} : { clusterUuid: values.uuid }),
  };
  return { device, options, sizeBytes, json: values.json ?? false };
}

async function init(argv: string[]): Promise<number> {
  const { device, options, sizeBytes, json } = parseInit(argv);
  const removeCreated = sizeBytes !== undefined && !existsSync(device) ? createSparseFile(device, sizeBytes) : undefined;
  requireDevice(device, ' (give --size to create a file)');
  let header;
  const progress = terminalProgress();
  try {
    header = await initVotingDisk(device, { ...options, onProgress: (done, total) => progress.show(bytesProgress(`zeroing ${device}`, done, total)) });
  } catch (err) {
    removeCreated?.();
    throw err;
  } finally {
    progress.done();
  }
  if (json) printJson({ device, header });
  else print(`initialized ${device}: voting disk ${header.diskIndex} of ${header.diskCount} of cluster '${header.clusterName}' (${header.clusterUuid}), ${header.hostSlots} host slots, ${header.sectorSize}-byte sectors`);
  return EXIT_OK;
}

// ---------------------------------------------------------------- wipe

async function wipe(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, { yes: { type: 'boolean' }, force: { type: 'boolean' }, initiator: { type: 'string' } }, ['DEVICE']);
  const device = positionals[0]!;
  if (!values.yes) throw usageError(`wipe destroys the voting disk on ${device}; add --yes to confirm`);
  const access = deviceAccess(device, values.initiator);
  requireDevice(device);
  const progress = terminalProgress();
  const onProgress = (done: number, total: number): void => progress.show(bytesProgress(`zeroing ${device}`, done, total));
  const { bytesZeroed } = await wipeVotingDisk(device, { ...access, force: values.force ?? false, onProgress }).finally(() => progress.done());
  print(`wiped ${device}: zeroed ${formatBytes(bytesZeroed)}`);
  return EXIT_OK;
}

// ---------------------------------------------------------------- show

async function show(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, { json: { type: 'boolean' }, all: { type: 'boolean' }, initiator: { type: 'string' } }, ['DEVICE']);
  const device = positionals[0]!;
  const access = deviceAccess(device, values.initiator);
  requireDevice(device);
  const inspection = await inspectVotingDisk(device, access);
  const keep = <P>(slot: SlotRead<P>) => values.all || slot.verdict !== 'empty';
  const heartbeats = inspection.heartbeats.filter(keep).map(heartbeatRow);
  const votes = inspection.votes.flatMap((slot, i) => (keep(slot) ? [voteRow(slot, inspection.voteCopies[i] ?? [], values.all ?? false)] : []));
  if (values.json) {
    printJson({ device: deviceJson(inspection), header: inspection.header, heartbeats, votes });
    return EXIT_OK;
  }
  print(describeHeader(inspection));
  print();
  print('Heartbeat slots');
  print(heartbeats.length === 0 ? '  (all empty)' : renderTable(['HOST', 'CHECK', 'INCARNATION', 'SEQUENCE', 'ROLE', 'EPOCH', 'MASTER', 'HEARD', 'RESOURCES'], heartbeats.map(heartbeatCells)));
  print();
  print('Vote slots');
  const copyColumns = values.all ? ['COPY', 'A/B'] : ['COPY'];
  print(votes.length === 0 ? '  (all empty)' : renderTable(['HOST', 'CHECK', ...copyColumns, 'INCARNATION', 'SEQUENCE', 'INSTANCE', 'MBAL', 'BAL', 'VALUE', 'DECIDED'], votes.map(voteCells)));
  return EXIT_OK;
}

function deviceJson(i: DiskInspection) {
  const { path, kind, logicalSectorSize, physicalSectorSize, sizeBytes, identity, ioEngine } = i.device;
  return { path, kind, logicalSectorSize, physicalSectorSize, sizeBytes, identity, ioEngine };
}

function describeHeader(i: DiskInspection): string {
  const h = i.header;
  const d = i.device;
  return renderFields([
    ['Device', `${d.path} (${d.kind}, ${formatBytes(d.sizeBytes)}, ${d.logicalSectorSize}/${d.physicalSectorSize}-byte logical/physical sectors, id ${d.identity}, I/O through ${d.ioEngine})`],
    ['Cluster', `${h.clusterName} (${h.clusterUuid})`],
    ['Layout', `version ${h.version}, voting disk ${h.diskIndex} of ${h.diskCount}, ${h.hostSlots} host slots`],
    ['Heartbeat area', `offset ${h.heartbeatAreaOffset}, ${h.heartbeatAreaSizeBytes} bytes (1 sector per host)`],
    ['Vote area', `offset ${h.voteAreaOffset}, ${h.voteAreaSizeBytes} bytes (copies A and B per host)`],
    ['Created', new Date(h.createdAtMs).toISOString()],
  ]);
}

interface SlotRow {
  host: number;
  check: string;
  incarnation: number | null;
  sequence: number | null;
}

type HeartbeatRow = SlotRow & Partial<HeartbeatPayload>;
/** `copy`: which copy a reader trusts (null when neither is ok); `copies`: both verdicts (--all). */
type VoteRow = SlotRow & { copy: 'A' | 'B' | null; copies?: string[] } & Partial<VotePayload>;

function slotRow<P>(slot: SlotRead<P>): SlotRow & Partial<P> {
  return {
    host: slot.hostId,
    check: slot.verdict,
    incarnation: slot.record?.incarnation ?? null,
    sequence: slot.record?.sequence ?? null,
    ...(slot.record?.payload ?? {}),
  } as SlotRow & Partial<P>;
}

const heartbeatRow = (slot: SlotRead<HeartbeatPayload>): HeartbeatRow => slotRow(slot);
const COPY_NAMES = ['A', 'B'] as const;

function voteRow(chosen: SlotRead<VotePayload>, copies: SlotRead<VotePayload>[], all: boolean): VoteRow {
  const { host, check, incarnation, sequence, ...payload } = slotRow(chosen);
  const copy = chosen.verdict === 'ok' ? (COPY_NAMES[copies.indexOf(chosen)] ?? null) : null;
  const verdicts = all ? { copies: copies.map((c) => c.verdict) } : {};
  return { host, check, copy, ...verdicts, incarnation, sequence, ...payload };
}

const text = (value: number | string | null | undefined) => (value === null || value === undefined ? '-' : String(value));
const hostList = (hosts: number[] | undefined) => (hosts === undefined ? '-' : hosts.length === 0 ? 'none' : hosts.join(','));
const decision = (d: Decision | null | undefined) => (d ? `e${d.epoch} m${d.masterId} [${d.members.join(',')}]` : '-');

function heartbeatCells(r: HeartbeatRow): string[] {
  const resources = r.resources === undefined ? '-' : r.resources.length === 0 ? 'none' : r.resources.map((x) => x.state).join(',');
  return [text(r.host), r.check, text(r.incarnation), text(r.sequence), text(r.role), text(r.epoch), text(r.masterId), hostList(r.heard), resources];
}

function voteCells(r: VoteRow): string[] {
  const copies = r.copies === undefined ? [] : [r.copies.join('/')];
  return [text(r.host), r.check, text(r.copy), ...copies, text(r.incarnation), text(r.sequence), text(r.instance), text(r.mbal), text(r.bal), decision(r.value), decision(r.decided)];
}

