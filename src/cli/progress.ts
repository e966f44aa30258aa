// Progress of long ycsctl operations (disk init and wipe, fence, unfence), on a terminal
// only: one line on stderr, rewritten in place, cleared when the operation ends. Nothing
// is printed when stderr is not a terminal, so scripts and --json output stay clean.

export interface Progress {
  /** Replaces the progress line. */
  show(text: string): void;
  /** Clears the line (the result is printed after it). */
  done(): void;
}

const SILENT: Progress = { show: () => {}, done: () => {} };

/** Minimum time between two redraws: a fast operation does not flood the terminal. */
const REDRAW_MS = 100;

export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY !== true) return SILENT;
  let shown = false;
  let lastDrawMs = -Infinity;
  return {
    show(text) {
      const now = Date.now();
      if (now - lastDrawMs < REDRAW_MS) return;
      lastDrawMs = now;
      shown = true;
      stream.write(`\r\x1b[K${text}`);
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}

/** "2.0 of 4.0 MiB (50%)". */
export function bytesProgress(label: string, doneBytes: number, totalBytes: number): string {
  const mib = (n: number): string => (n / (1024 * 1024)).toFixed(1);
  const percent = totalBytes === 0 ? 100 : Math.floor((doneBytes * 100) / totalBytes);
  return `${label}: ${mib(doneBytes)} of ${mib(totalBytes)} MiB (${percent}%)`;
}

/**
 * Shows `label` with the seconds waited so far, every second, until `work` settles (a
 * daemon call whose steps happen elsewhere, such as a fence with retries).
 */
export async function withElapsed<T>(progress: Progress, label: string, work: Promise<T>): Promise<T> {
  const started = Date.now();
  const draw = (): void => progress.show(`${label} (${Math.floor((Date.now() - started) / 1000)} s)`);
  draw();
  const timer = setInterval(draw, 1000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
    progress.done();
  }
}
