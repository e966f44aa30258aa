// The one NDJSON line splitter every socket reader uses (control socket, heartbeat 2, the
// ycsm channel, the client library): a bounded buffer, so a peer that never sends a
// newline cannot make a process buffer without bound. Blank lines are skipped, a trailing
// \r is dropped, and a multi-byte character split across chunks is decoded whole.
import { StringDecoder } from 'node:string_decoder';
import { YcsError } from '../errors.js';

export class LineSplitter {
  private buffered = '';
  private readonly decoder = new StringDecoder('utf8');

  constructor(readonly maxLineBytes: number) {}

  /**
   * The complete lines in `chunk` and what came before it. Throws E_PROTOCOL ("line
   * longer than N bytes") once a line, finished or not, exceeds the bound: the caller
   * then closes that connection; the splitter is not to be used again.
   */
  push(chunk: string | Buffer): string[] {
    this.buffered += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const lines = this.buffered.split('\n');
    this.buffered = lines.pop() ?? '';
    const tooLong = Buffer.byteLength(this.buffered) > this.maxLineBytes || lines.some((line) => Buffer.byteLength(line) > this.maxLineBytes);
    if (tooLong) {
      this.buffered = '';
      throw new YcsError('E_PROTOCOL', `line longer than ${this.maxLineBytes} bytes`);
    }
    return lines.map((line) => line.replace(/\r$/, '')).filter((line) => line.trim().length > 0);
  }
}
