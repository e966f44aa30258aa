// One-at-a-time execution of asynchronous steps, in the order they were queued: the
// fence shell's steps (register, reserve, fence, unfence, and the operator's own fence
// and unfence) must never interleave on the storage.

export class StepQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /**
   * Runs `step` once every step queued before it has settled. Its result or error goes to
   * the caller; the queue goes on either way.
   */
  run<T>(step: () => Promise<T>): Promise<T> {
    const result = this.tail.then(step);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Like run(), for steps nobody waits on: an error goes to `onError`, never to the caller. */
  enqueue(step: () => Promise<void>, onError: (err: unknown) => void): Promise<void> {
    return this.run(step).catch((err: unknown) => {
      onError(err);
    });
  }
}
