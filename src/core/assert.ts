// Assertions that stay on in production (TigerBeetle style): a broken invariant stops the
// engine at once instead of letting it act on a state it does not understand. The daemon
// logs the failure as fatal and exits (ycsm restarts it); the simulator reports the run
// as a crash. Assert internal state only, never input data: bad input is an error the
// caller handles (docs/engine.md, "Assertions").

export class AssertionFailure extends Error {
  override readonly name = 'AssertionFailure';
}

/** Throws AssertionFailure("assertion failed: msg") unless `cond` holds. `msg` may be lazy. */
export function assert(cond: unknown, msg: string | (() => string)): asserts cond {
  if (cond) return;
  throw new AssertionFailure(`assertion failed: ${typeof msg === 'function' ? msg() : msg}`);
}
