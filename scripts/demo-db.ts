#!/usr/bin/env node
// A tiny "database" for the demo and the tests. It links the heartbeat-2 client library,
// logs its role changes, and appends "epoch=E host=H seq=N" to its data file only while
// it is primary with a valid lease, so a test can check that two hosts never wrote at
// the same time (after the first line of epoch E, no line of an older epoch appears).
//
//   node dist/scripts/demo-db.js --data FILE [--socket PATH] [--resource NAME] [--host ID]
//        [--write-interval-ms 50] [--hb-interval-ms 200]
// --socket, --resource and --host default to YCS_HB_SOCKET, YCS_RESOURCE and YCS_HOST_ID,
// the environment a resource agent gets, so an agent can start it with no arguments but
// --data. Exits 0 on SIGTERM or SIGINT.
//
// Data-LUN mode (the fault campaign, docs/campaign.md; scripts/data-lun-writer.ts):
//   ... --ycs-config PATH --ack-log FILE [--region-sectors N] [--unsafe-ignore-lease]
// writes records to the host's data disk (the config's first dataDisks entry, an iscsi://
// LUN) on its own I_T nexus instead of appending to --data, and logs each acknowledged
// write to FILE. The flags default to DEMO_DB_YCS_CONFIG, DEMO_DB_ACK_LOG,
// DEMO_DB_REGION_SECTORS and DEMO_DB_UNSAFE=ignore-lease (from the resource's env).
import { appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { connectYcs } from '../src/client/index.js';
import { DataLunWriter } from './data-lun-writer.js';

interface DemoDbOptions {
  dataPath: string;
  socketPath: string;
  resource: string;
  hostId: string;
  writeIntervalMs: number;
  hbIntervalMs: number;
  /** Data-LUN mode when set. */
  lun?: { ycsConfigPath: string; ackLogPath: string; regionSectors: number; unsafeIgnoreLease: boolean };
}

function required(name: string, value: string | undefined): string {
  if (value === undefined || value === '') {
    process.stderr.write(`E_USAGE: demo-db: --${name} is required (or its YCS_* environment variable)\n`);
    process.exit(2);
  }
  return value;
}

function options(): DemoDbOptions {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      socket: { type: 'string' },
      resource: { type: 'string' },
      host: { type: 'string' },
      'write-interval-ms': { type: 'string' },
      'hb-interval-ms': { type: 'string' },
      'ycs-config': { type: 'string' },
      'ack-log': { type: 'string' },
      'region-sectors': { type: 'string' },
      'unsafe-ignore-lease': { type: 'boolean' },
    },
  });
  const env = process.env;
  const ycsConfigPath = values['ycs-config'] ?? env.DEMO_DB_YCS_CONFIG;
  const lun = ycsConfigPath === undefined || ycsConfigPath === '' ? undefined : {
    ycsConfigPath,
    ackLogPath: required('ack-log', values['ack-log'] ?? env.DEMO_DB_ACK_LOG),
    regionSectors: Number(values['region-sectors'] ?? env.DEMO_DB_REGION_SECTORS ?? 131072),
    unsafeIgnoreLease: values['unsafe-ignore-lease'] === true || env.DEMO_DB_UNSAFE === 'ignore-lease',
  };
  return {
    ...(lun !== undefined ? { lun } : {}),
    dataPath: required('data', values.data),
    socketPath: required('socket', values.socket ?? process.env.YCS_HB_SOCKET),
    resource: required('resource', values.resource ?? process.env.YCS_RESOURCE),
    hostId: values.host ?? process.env.YCS_HOST_ID ?? '?',
    writeIntervalMs: Number(values['write-interval-ms'] ?? 50),
    hbIntervalMs: Number(values['hb-interval-ms'] ?? 200),
  };
}

function main(): void {
  const opts = options();
  const log = pino({ base: { proc: 'demo-db', resource: opts.resource, host: opts.hostId, pid: process.pid } });
  const client = connectYcs({
    socketPath: opts.socketPath,
    resource: opts.resource,
    intervalMs: opts.hbIntervalMs,
    onRole: (state) => log.info({ role: state.role, epoch: state.epoch }, `demo-db is now ${state.role} at epoch ${state.epoch}`),
    onProblem: (message) => log.warn(message),
  });
  if (opts.lun !== undefined) {
    runOnLun(opts, opts.lun, client, log);
    return;
  }
  let seq = 0;
  const writer = setInterval(() => {
    const { epoch } = client.state();
    // The check and the append run in one synchronous step: no await between them.
    if (!client.canWrite(epoch)) return;
    seq++;
    appendFileSync(opts.dataPath, `epoch=${epoch} host=${opts.hostId} seq=${seq}\n`);
  }, opts.writeIntervalMs);
  const stop = (signal: string): void => {
    clearInterval(writer);
    log.info({ signal, writes: seq }, `demo-db stopping on ${signal}`);
    void client.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  log.info({ socketPath: opts.socketPath, dataPath: opts.dataPath }, 'demo-db started');
}

function runOnLun(opts: DemoDbOptions, lun: NonNullable<DemoDbOptions['lun']>, client: ReturnType<typeof connectYcs>, log: pino.Logger): void {
  const writer = new DataLunWriter(client, { ...lun, writeIntervalMs: opts.writeIntervalMs, log });
  writer.start();
  const stop = (signal: string): void => {
    log.info({ signal, writes: writer.writes }, `demo-db stopping on ${signal}`);
    void writer.stop().then(() => client.close()).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  log.info({ socketPath: opts.socketPath, ycsConfig: lun.ycsConfigPath, ackLog: lun.ackLogPath, unsafe: lun.unsafeIgnoreLease }, 'demo-db started in data-LUN mode');
}

main();
