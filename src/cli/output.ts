// Shared helpers for every ycsctl command group: strict argument parsing, the one-line
// `code: message` error form, exit codes, --json and plain-text tables.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { YcsError, toYcsError } from '../errors.js';

/** Exit codes: 0 success, 1 a YcsError (the operation failed), 2 the command line was wrong. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A command group as main.ts dispatches it: `ycsctl <group> <command> [args]`. */
export interface CommandGroup {
  run(argv: string[]): Promise<number>;
}

export function usageError(message: string): YcsError {
  return new YcsError('E_USAGE', message);
}

export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface ParsedCommand<V> {
  values: V;
  positionals: string[];
}

/**
 * node:util parseArgs in strict mode; its errors (unknown flag, missing value) become
 * E_USAGE. `positionalNames` names the required positionals, in order.
 */
export function parseCommand<O extends Options>(
  argv: string[],
  options: O,
  positionalNames: readonly string[],
): ParsedCommand<ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>['values']> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    // node's messages go on to explain '--' for positionals; the first sentence is the point.
    const message = err instanceof Error ? err.message : String(err);
    throw usageError(message.split(/\.\s|\n/)[0]!);
  }
  const { positionals } = parsed;
  if (positionals.length < positionalNames.length) {
    throw usageError(`missing ${positionalNames.slice(positionals.length).join(' ')}`);
  }
  if (positionals.length > positionalNames.length) {
    throw usageError(`unexpected argument '${positionals[positionalNames.length]!}'`);
  }
  return { values: parsed.values, positionals };
}

/** Parses an integer flag value; E_USAGE when it is not a whole number. */
export function parseIntegerFlag(flag: string, text: string): number {
  if (!/^[0-9]+$/.test(text)) throw usageError(`--${flag} needs a whole number, got '${text}'`);
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw usageError(`--${flag} is too large: ${text}`);
  return value;
}

const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** Parses a byte count with an optional binary suffix: 4096, 64K, 16M, 1G. */
export function parseSizeFlag(flag: string, text: string): number {
  const match = /^([0-9]+)([KMGT]?)(i?B)?$/i.exec(text);
  if (!match) throw usageError(`--${flag} needs a size in bytes such as 4194304, 64M or 1G, got '${text}'`);
  const value = Number(match[1]) * SIZE_UNITS[match[2]!.toUpperCase()]!;
  if (!Number.isSafeInteger(value) || value <= 0) throw usageError(`--${flag} is out of range: ${text}`);
  return value;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1 && value % 1024 === 0) {
    value /= 1024;
    unit++;
  }
  return `${value} ${units[unit]!}`;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function print(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** Left-aligned plain-text table; a header row, then one row per entry. */
export function renderTable(columns: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(columns), ...rows.map(line)].join('\n');
}

/** Key/value lines with the keys padded to one column. */
export function renderFields(fields: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

/** Prints `code: message` on one line to stderr and returns the exit code for it. */
export function reportError(err: unknown): number {
  const error = toYcsError(err);
  process.stderr.write(`${error.toLine().replace(/\s*\n\s*/g, ' ')}\n`);
  return error.code === 'E_USAGE' ? EXIT_USAGE : EXIT_FAILED;
}
