// The run's trace: a running FNV-1a hash over every event (so two runs of one seed can be
// compared cheaply) and, with --trace, the same events as text lines.

export class Trace {
  private hash = 0x811c9dc5;
  readonly lines: string[] = [];
  constructor(readonly keepLines: boolean) {}

  /** Mix one event into the hash; `text` is built lazily only when lines are kept. */
  note(atMs: number, host: number, code: string, text?: () => string): void {
    this.mixNumber(Math.round(atMs * 1000));
    this.mixNumber(host);
    this.mixString(code);
    if (this.keepLines) {
      const detail = text ? ` ${text()}` : '';
      this.lines.push(`${atMs.toFixed(3).padStart(12)} h${host} ${code}${detail}`);
    }
  }

  mixNumber(n: number): void {
    // Split into 16-bit pieces so large values still hash every bit.
    let v = Math.floor(Math.abs(n));
    for (let i = 0; i < 4; i++) {
      this.mixByte(v & 0xff);
      this.mixByte((v >>> 8) & 0xff);
      v = Math.floor(v / 65536);
    }
    this.mixByte(n < 0 ? 1 : 0);
  }

  mixString(s: string): void {
    for (let i = 0; i < s.length; i++) this.mixByte(s.charCodeAt(i) & 0xff);
  }

  private mixByte(b: number): void {
    this.hash = Math.imul(this.hash ^ b, 0x01000193) >>> 0;
  }

  digest(): string {
    return this.hash.toString(16).padStart(8, '0');
  }
}
