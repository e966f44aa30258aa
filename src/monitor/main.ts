#!/usr/bin/env node
// ycsm: started first (by systemd, packaging/ycsm.service), starts and watches ycs.
//   ycsm --config PATH [--ycs-command CMD] [--keepalive-ms N] [--max-restarts N]
//        [--restart-window-ms N] [--backoff-ms N] [--stop-timeout-ms N] [--startup-grace-ms N]
// The local heartbeat timeout is DISK_HB_KEEP_ALIVE as ycs reads it from the config (its
// default when absent; src/config/ keepAliveOf) unless --keepalive-ms overrides
// it. CMD (or env YCSM_YCS_COMMAND) is split on spaces; `--config PATH` is appended.
// Exit: 0 after ycs stopped normally or on SIGTERM; 1 on an internal error; 2 for bad
// usage or config; 3 when ycs kept crashing (E_RESTART_LIMIT). Errors are one line
// `code: message` on stderr.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { keepAliveOf } from '../config/index.js';
import { YcsError, toYcsError } from '../errors.js';
import { runIfEntryPoint } from '../entry.js';
import { Supervisor, type SupervisorOptions } from './supervisor.js';
import { SystemdNotifier, nativeNotify } from './systemd.js';

interface MonitorCli {
  configPath: string;
  command: string;
  args: string[];
  settings: Omit<SupervisorOptions, 'command' | 'args' | 'logger'>;
}

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new YcsError('E_USAGE', `--${name} must be a positive integer, not ${JSON.stringify(value)}`);
  return n;
}

export function parseMonitorArgs(argv: string[], env: NodeJS.ProcessEnv): MonitorCli {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        'ycs-command': { type: 'string' },
        'keepalive-ms': { type: 'string' },
        'max-restarts': { type: 'string' },
        'restart-window-ms': { type: 'string' },
        'backoff-ms': { type: 'string' },
        'stop-timeout-ms': { type: 'string' },
        'startup-grace-ms': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new YcsError('E_USAGE', (err as Error).message);
  }
  const v = parsed.values;
  if (v.config === undefined) throw new YcsError('E_USAGE', 'usage: ycsm --config PATH [--ycs-command CMD] [--keepalive-ms N]');
  const keepaliveMs = positiveInt('keepalive-ms', v['keepalive-ms']) ?? keepAliveOf(v.config);
  const commandLine = v['ycs-command'] ?? env.YCSM_YCS_COMMAND;
  const words = commandLine?.trim().split(/\s+/) ?? [process.execPath, fileURLToPath(new URL('../daemon/main.js', import.meta.url))];
  const [command, ...args] = words;
  if (command === undefined || command === '') throw new YcsError('E_USAGE', '--ycs-command is empty');
  const settings: MonitorCli['settings'] = { keepaliveMs };
  const maxRestarts = positiveInt('max-restarts', v['max-restarts']);
  const restartWindowMs = positiveInt('restart-window-ms', v['restart-window-ms']);
  const backoffBaseMs = positiveInt('backoff-ms', v['backoff-ms']);
  const stopTimeoutMs = positiveInt('stop-timeout-ms', v['stop-timeout-ms']);
  const startupGraceMs = positiveInt('startup-grace-ms', v['startup-grace-ms']);
  if (startupGraceMs !== undefined) settings.startupGraceMs = startupGraceMs;
  if (maxRestarts !== undefined) settings.maxRestarts = maxRestarts;
  if (restartWindowMs !== undefined) settings.restartWindowMs = restartWindowMs;
  if (backoffBaseMs !== undefined) settings.backoffBaseMs = backoffBaseMs;
  if (stopTimeoutMs !== undefined) settings.stopTimeoutMs = stopTimeoutMs;
  return { configPath: v.config, command, args: [...args, '--config', v.config], settings };
}

async function main(): Promise<number> {
  let cli: MonitorCli;
  try {
    cli = parseMonitorArgs(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`${toYcsError(err).toLine()}\n`);
    return 2;
  }
  const logger = pino({ level: process.env.YCS_LOG_LEVEL ?? 'info', base: { proc: 'ycsm', pid: process.pid } });
  let notifyFailed = false;
  const systemd = new SystemdNotifier('ycs', nativeNotify((err) => {
    if (!notifyFailed) logger.warn({ err }, `telling systemd failed: ${err.message}`);
    notifyFailed = true;
  }));
  const supervisor = new Supervisor({ ...cli.settings, command: cli.command, args: cli.args, logger, onRole: (role) => systemd.onRole(role) });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      logger.info({ signal }, `ycsm received ${signal}: stopping ycs`);
      systemd.stopping();
      supervisor.requestStop();
    });
  }
  process.on('SIGHUP', () => {}); // a closed terminal must not take the cluster down
  systemd.start();
  const outcome = await supervisor.run();
  systemd.close();
  logger.info({ exitCode: outcome.exitCode, reason: outcome.reason }, `ycsm exits: ${outcome.reason}`);
  if (outcome.error !== undefined) process.stderr.write(`${outcome.error.toLine()}\n`);
  return outcome.exitCode;
}

runIfEntryPoint(import.meta.url, main);
