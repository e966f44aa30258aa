// The simulator's event queue: a binary min-heap ordered by virtual time, ties broken by
// insertion order (a sequence counter), so a run never depends on heap internals.

export interface Queued<E> {
  atMs: number;
  seq: number;
  event: E;
}

export class EventQueue<E> {
  private heap: Array<Queued<E>> = [];
  private nextSeq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(atMs: number, event: E): void {
    const item = { atMs, seq: this.nextSeq++, event };
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, heap[parent] as Queued<E>)) break;
      heap[i] = heap[parent] as Queued<E>;
      i = parent;
    }
    heap[i] = item;
  }

  pop(): Queued<E> | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      let child = left;
      if (right < heap.length && before(heap[right] as Queued<E>, heap[left] as Queued<E>)) child = right;
      if (!before(heap[child] as Queued<E>, last)) break;
      heap[i] = heap[child] as Queued<E>;
      i = child;
    }
    heap[i] = last;
    return top;
  }

  peekTime(): number | undefined {
    return this.heap[0]?.atMs;
  }
}

function before<E>(x: Queued<E>, y: Queued<E>): boolean {
  return x.atMs < y.atMs || (x.atMs === y.atMs && x.seq < y.seq);
}
