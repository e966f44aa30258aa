// Collects every problem of a parsed config object, each one line `E_CONFIG: <file>: <key>:
// <problem>`, so an operator fixes the file in one pass; every getter tolerates any input.

export type Raw = Record<string, unknown>;

/** Collects problems while reading a parsed JSON object; every getter tolerates any input. */
export class Checker {
  readonly problems: string[] = [];
  constructor(private readonly file: string) {}

  problem(key: string, text: string): void {
    this.problems.push(`E_CONFIG: ${this.file}: ${key}: ${text}`);
  }

  unknownKeys(obj: Raw, allowed: string[], prefix: string): void {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) this.problem(`${prefix}${key}`, 'unknown key');
    }
  }

  string(obj: Raw, key: string, name: string, fallback?: string): string | undefined {
    const value = obj[key];
    if (value === undefined) {
      if (fallback === undefined) this.problem(name, 'is required');
      return fallback;
    }
    if (typeof value !== 'string' || value.length === 0) {
      this.problem(name, `must be a non-empty string, got ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  integer(obj: Raw, key: string, name: string, min: number, max: number, fallback?: number): number | undefined {
    const value = obj[key];
    if (value === undefined) {
      if (fallback === undefined) this.problem(name, 'is required');
      return fallback;
    }
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      this.problem(name, `must be an integer, got ${describe(value)}`);
      return undefined;
    }
    if (value < min || value > max) {
      this.problem(name, `must be in ${min}..${max}, got ${value}`);
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(obj: Raw, key: string, choices: readonly T[], fallback?: T, name = key): T | undefined {
    const value = this.string(obj, key, name, fallback);
    if (value === undefined) return undefined;
    if (!(choices as readonly string[]).includes(value)) {
      this.problem(name, `must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
      return undefined;
    }
    return value as T;
  }

  array(obj: Raw, key: string, required: boolean): unknown[] | undefined {
    const value = obj[key];
    if (value === undefined) {
      if (required) this.problem(key, 'is required');
      return required ? undefined : [];
    }
    if (!Array.isArray(value)) {
      this.problem(key, `must be an array, got ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  object(value: unknown, name: string): Raw | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.problem(name, `must be an object, got ${describe(value)}`);
      return undefined;
    }
    return value as Raw;
  }
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
