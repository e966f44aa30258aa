#!/usr/bin/env node
// ycs: the cluster daemon. Normally started by ycsm (packaging/ycsm.service).
//   ycs [--config PATH] [--check]
// Exit: 0 after a normal stop (SIGTERM, SIGINT, `shutdown` over the control socket);
// 2 for bad usage or a bad config (every problem on its own line `E_CONFIG: ...`);
// 1 for any other fatal error (one line `code: message` on stderr), so ycsm restarts it.
import { parseArgs } from 'node:util';
import { YcsError, toYcsError } from '../errors.js';
import { runIfEntryPoint } from '../entry.js';
import { DEFAULT_CONFIG_PATH, loadConfig, type Config } from '../config/index.js';
import { Daemon } from './daemon.js';
import { createDaemonLoggers } from './logger.js';

const USAGE = `usage: ycs [--config PATH] [--check]   (default config ${DEFAULT_CONFIG_PATH})`;

function parse(argv: string[]): { configPath: string; check: boolean } {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, check: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
    if (values.help === true) {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    return { configPath: values.config ?? DEFAULT_CONFIG_PATH, check: values.check === true };
  } catch (err) {
    throw new YcsError('E_USAGE', `${(err as Error).message}; ${USAGE}`);
  }
}

/** Codes that mean "fix the configuration", not "try again": exit 2. */
function exitCodeFor(err: YcsError): number {
  return err.code === 'E_USAGE' || err.code === 'E_CONFIG' ? 2 : 1;
}

async function main(): Promise<number> {
  let config: Config;
  let check: boolean;
  try {
    const cli = parse(process.argv.slice(2));
    check = cli.check;
    config = loadConfig(cli.configPath);
  } catch (err) {
    const e = toYcsError(err);
    process.stderr.write(`${e.toLine()}\n`);
    return exitCodeFor(e);
  }
  if (check) {
    process.stdout.write(`${config.path}: ok\n`);
    return 0;
  }
  const loggers = createDaemonLoggers({ level: config.logLevel, hostId: config.hostId });
  let daemon: Daemon;
  try {
    daemon = await Daemon.start(config, loggers);
  } catch (err) {
    const e = toYcsError(err);
    loggers.of('daemon').fatal({ code: e.code, device: e.device, errno: e.errno }, `ycs cannot start: ${e.message}`);
    process.stderr.write(`${e.toLine()}\n`);
    return exitCodeFor(e);
  }
  // A bug outside the step loop: say so in the log, then let ycsm restart a clean process.
  const crash = (kind: string) => (err: unknown): void => {
    loggers.of('daemon').fatal({ err }, `${kind}, exiting: ${toYcsError(err).message}`);
    process.exit(1);
  };
  process.on('uncaughtException', crash('uncaught exception'));
  process.on('unhandledRejection', crash('unhandled promise rejection'));
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => daemon.requestStop(`received ${signal}`));
  }
  process.on('SIGHUP', () => {}); // a closed terminal must not stop the cluster
  process.on('SIGPIPE', () => {});
  return daemon.exited;
}

runIfEntryPoint(import.meta.url, main);
