// The YcsError a promise rejects with; anything else (a resolve, another error) fails the test.
import { YcsError } from '../../src/errors.js';

export async function rejection(promise: Promise<unknown>): Promise<YcsError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof YcsError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}
