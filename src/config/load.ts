// Reading a config file: the full validation (loadConfig) and the two lookups that must
// work on a config with problems elsewhere (keepAliveOf for ycsm, controlSocketOf for ycsctl).
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Checker, type Raw } from './checker.js';
import { checkKeepAlive, checkTop } from './checks.js';
import { CONFIG_DEFAULTS, ConfigError, type Config } from './types.js';

/** Validates without throwing: every problem, and the config when there is none. */
export function checkConfig(text: string, path = ''): { config: Config | undefined; problems: string[] } {
  const c = new Checker(path === '' ? '<config>' : path);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    c.problem('(file)', `is not valid JSON: ${(err as Error).message}`);
    return { config: undefined, problems: c.problems };
  }
  const obj = c.object(raw, '(file)');
  const config = obj === undefined ? undefined : checkTop(c, obj, path);
  return { config: c.problems.length === 0 ? config : undefined, problems: c.problems };
}

export function parseConfig(text: string, path = ''): Config {
  const { config, problems } = checkConfig(text, path);
  if (config === undefined) {
    throw new ConfigError(problems.length > 0 ? problems : [`E_CONFIG: ${path}: (file): invalid`]);
  }
  return config;
}

export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError([`E_CONFIG: ${path}: (file): cannot be read (${code})`]);
  }
  return parseConfig(text, path);
}

export const DEFAULT_CONFIG_PATH = '/etc/ycs/ycs.json';

/** The parsed JSON of a config file, unvalidated (undefined when it is not an object). */
function readRawConfig(configPath: string): Raw | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? 'not valid JSON';
    throw new ConfigError([`E_CONFIG: ${configPath}: (file): cannot be read (${why})`]);
  }
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Raw) : undefined;
}

/**
 * DISK_HB_KEEP_ALIVE of a config file exactly as the daemon reads it (same range, same
 * default), without validating the rest: ycsm's local heartbeat timeout must equal the
 * daemon's keep-alive, and ycsm must start ycs (which reports every other problem) even
 * when, say, a voting disk is missing. The timeouts' safety rules stay ycs's to check.
 */
export function keepAliveOf(configPath: string): number {
  const c = new Checker(configPath);
  const raw = readRawConfig(configPath);
  if (raw === undefined) c.problem('(file)', 'must be an object');
  const keepAlive = raw === undefined ? undefined : checkKeepAlive(c, raw);
  if (keepAlive === undefined) throw new ConfigError(c.problems);
  return keepAlive;
}

/**
 * The control socket named by a config file, without validating the rest of it: ycsctl
 * must find the daemon even when, say, a voting disk is missing on this host.
 */
export function controlSocketOf(configPath: string): string {
  const value = readRawConfig(configPath)?.controlSocket;
  if (value === undefined) return CONFIG_DEFAULTS.controlSocket;
  if (typeof value !== 'string' || value === '') {
    throw new ConfigError([`E_CONFIG: ${configPath}: controlSocket: must be a non-empty string`]);
  }
  return resolve(dirname(resolve(configPath)), value);
}
