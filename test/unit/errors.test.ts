import { describe, expect, it } from 'vitest';
import { YcsError, isYcsError, toYcsError } from '../../src/errors.js';

describe('YcsError', () => {
  it('prints code: message on one line', () => {
    const err = new YcsError('E_IO', 'read of /dev/loop0 at 512 failed', { errno: 'EIO', device: '/dev/loop0', op: 'read', offset: 512 });
    expect(err.toLine()).toBe('E_IO: read of /dev/loop0 at 512 failed');
    expect(err.errno).toBe('EIO');
    expect(isYcsError(err, 'E_IO')).toBe(true);
    expect(isYcsError(err, 'E_CORRUPT')).toBe(false);
  });

  it('wraps foreign errors as E_INTERNAL', () => {
    const wrapped = toYcsError(new TypeError('boom'));
    expect(wrapped.code).toBe('E_INTERNAL');
    expect(wrapped.message).toBe('boom');
  });
});
