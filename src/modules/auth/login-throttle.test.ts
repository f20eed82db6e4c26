import { DomainError, ErrorCode } from '../../shared/errors';
import { DEFAULT_ADDRESS_LIMIT, DEFAULT_USERNAME_LIMIT, LoginThrottle, addressKey } from './login-throttle';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

function clock(start = 1_700_000_000_000) {
  let time = start;
  return {
    now: () => time,
    advance: (ms: number) => {
      time += ms;
    },
  };
}

/** The error check() throws, or undefined when the attempt may go ahead. */
function refusal(throttle: LoginThrottle, username: string, address: string): DomainError | undefined {
  try {
    throttle.check(username, address);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return error as DomainError;
  }
}

/** One login attempt that fails, the way AuthService makes it: check first, then record. */
function failedAttempt(throttle: LoginThrottle, username: string, address: string): 'refused' | 'failed' {
  if (refusal(throttle, username, address)) return 'refused';
  throttle.recordFailure(username, address);
  return 'failed';
}

describe('LoginThrottle per username', () => {
  it('lets 10 failures in a row through and refuses the 11th attempt with 429 and Retry-After', () => {
    const time = clock();
    const throttle = new LoginThrottle({ now: time.now });
    for (let attempt = 1; attempt <= 10; attempt += 1) {
      expect(failedAttempt(throttle, 'alice', '10.0.0.1')).toBe('failed');
      time.advance(SECOND);
    }
    const error = refusal(throttle, 'alice', '10.0.0.1');
    expect(error).toMatchObject({
      code: ErrorCode.TOO_MANY_REQUESTS,
      message: 'Too many failed login attempts, retry later',
    });
    expect(error?.details.retryAfterSeconds).toBe(29);
  });

  it('locks the username from every address, not only the guessing one', () => {
    const time = clock();
    const throttle = new LoginThrottle({ now: time.now });
    for (let attempt = 0; attempt < 10; attempt += 1) throttle.recordFailure('alice', '10.0.0.1');
    expect(refusal(throttle, 'alice', '192.168.1.1')?.code).toBe(ErrorCode.TOO_MANY_REQUESTS);
  });

  it('does not lock other usernames because one username is locked', () => {
    const throttle = new LoginThrottle({ now: clock().now });
    for (let attempt = 0; attempt < 10; attempt += 1) throttle.recordFailure('alice', '10.0.0.1');
    expect(refusal(throttle, 'bob', '10.0.0.1')).toBeUndefined();
    expect(refusal(throttle, 'bob', '10.0.0.2')).toBeUndefined();
  });

  it('starts counting again after a success', () => {
    const throttle = new LoginThrottle({ now: clock().now });
    for (let attempt = 0; attempt < 9; attempt += 1) throttle.recordFailure('alice', '10.0.0.1');
    throttle.recordSuccess('alice', '10.0.0.1');
    for (let attempt = 0; attempt < 10; attempt += 1) {
      expect(failedAttempt(throttle, 'alice', '10.0.0.1')).toBe('failed');
    }
    expect(failedAttempt(throttle, 'alice', '10.0.0.1')).toBe('refused');
  });

  it('unlocks after the lock time and doubles the lock on each further failure, up to 15 minutes', () => {
    const time = clock();
    const throttle = new LoginThrottle({ now: time.now });
    for (let attempt = 0; attempt < 10; attempt += 1) throttle.recordFailure('alice', '10.0.0.1');

    const locks: number[] = [];
    for (let round = 0; round < 8; round += 1) {
      const retryAfter = refusal(throttle, 'alice', '10.0.0.1')?.details.retryAfterSeconds ?? 0;
      locks.push(retryAfter);
      time.advance(retryAfter * SECOND - 1);
      expect(failedAttempt(throttle, 'alice', '10.0.0.1')).toBe('refused');
      time.advance(1);
      expect(failedAttempt(throttle, 'alice', '10.0.0.1')).toBe('failed');
    }
    expect(locks).toEqual([30, 60, 120, 240, 480, 900, 900, 900]);
  });

  it('forgets a streak after an hour without failures', () => {
    const time = clock();
    const throttle = new LoginThrottle({ now: time.now });
    for (let attempt = 0; attempt < 9; attempt += 1) throttle.recordFailure('alice', '10.0.0.1');
    time.advance(DEFAULT_USERNAME_LIMIT.windowMs);
    for (let attempt = 0; attempt < 10; attempt += 1) {
      expect(failedAttempt(throttle, 'alice', `10.0.${attempt}.1`)).toBe('failed');
    }
    expect(failedAttempt(throttle, 'alice', '10.0.0.1')).toBe('refused');
  });

  it('keeps a slow streak: failures spaced under the window still add up', () => {
    const time = clock();
    const throttle = new LoginThrottle({ now: time.now });
    for (let attempt = 0; attempt < 10; attempt += 1) {
      expect(failedAttempt(throttle, 'alice', '10.0.0.1')).toBe('failed');
      time.advance(30 * MINUTE);
    }
    // The lock itself has expired by now, but the streak has not: the next failure locks for 60 s.
    expect(failedAttempt(throttle, 'alice', '10.0.0.1')).toBe('failed');
    expect(refusal(throttle, 'alice', '10.0.0.1')?.details.retryAfterSeconds).toBe(60);
  });

  it('treats usernames exactly, and long usernames without mixing them up', () => {
    const throttle = new LoginThrottle({ now: clock().now });
    const long = 'x'.repeat(5000);
    for (let attempt = 0; attempt < 10; attempt += 1) {
      throttle.recordFailure('Alice', '10.0.0.1');
      throttle.recordFailure(long, '10.0.0.2');
    }
    expect(refusal(throttle, 'alice', '10.0.0.3')).toBeUndefined();
    expect(refusal(throttle, 'Alice', '10.0.0.3')).toBeDefined();
    expect(refusal(throttle, long, '10.0.0.3')).toBeDefined();
    expect(refusal(throttle, `${long}y`, '10.0.0.3')).toBeUndefined();
  });

  it('honours custom limits', () => {
    const time = clock();
    const throttle = new LoginThrottle({ now: time.now, perUsername: { maxFailures: 3, windowMs: MINUTE, lockMs: 5 * SECOND } });
    for (let attempt = 0; attempt < 3; attempt += 1) expect(failedAttempt(throttle, 'alice', '10.0.0.1')).toBe('failed');
    expect(refusal(throttle, 'alice', '10.0.0.1')?.details.retryAfterSeconds).toBe(5);
  });

  it('rejects nonsensical limits', () => {
    expect(() => new LoginThrottle({ perUsername: { maxFailures: 0, windowMs: 1, lockMs: 1 } })).toThrow(RangeError);
    expect(() => new LoginThrottle({ perAddress: { maxFailures: 1, windowMs: 0, lockMs: 1 } })).toThrow(RangeError);
    expect(() => new LoginThrottle({ maxEntries: 0 })).toThrow(RangeError);
  });
});

describe('LoginThrottle per address', () => {
  it('is looser than the username limit', () => {
    expect(DEFAULT_ADDRESS_LIMIT.maxFailures).toBeGreaterThanOrEqual(10 * DEFAULT_USERNAME_LIMIT.maxFailures);
  });

  it('lets one address fail up to its limit across many usernames, then refuses only that address', () => {
    const time = clock();
    const throttle = new LoginThrottle({ now: time.now });
    // 100 usernames, one failure each: nobody's username limit is reached.
    for (let user = 0; user < DEFAULT_ADDRESS_LIMIT.maxFailures; user += 1) {
      expect(failedAttempt(throttle, `user${user}`, '203.0.113.7')).toBe('failed');
    }
    const error = refusal(throttle, 'someone-else', '203.0.113.7');
    expect(error?.code).toBe(ErrorCode.TOO_MANY_REQUESTS);
    expect(error?.details.retryAfterSeconds).toBe(60);
    // The same users from anywhere else are not affected: one client never locks others out.
    expect(refusal(throttle, 'user0', '198.51.100.1')).toBeUndefined();
    expect(refusal(throttle, 'someone-else', '198.51.100.1')).toBeUndefined();
  });

  it("does not let one address's failures lock another username", () => {
    const throttle = new LoginThrottle({ now: clock().now });
    for (let attempt = 0; attempt < 10; attempt += 1) throttle.recordFailure('mallory-target', '203.0.113.7');
    expect(refusal(throttle, 'bob', '198.51.100.1')).toBeUndefined();
    expect(refusal(throttle, 'bob', '203.0.113.7')).toBeUndefined();
  });

  it('is not reset by a success (a valid account must not launder a spray)', () => {
    const throttle = new LoginThrottle({ now: clock().now });
    for (let user = 0; user < 99; user += 1) throttle.recordFailure(`user${user}`, '203.0.113.7');
    throttle.recordSuccess('mallory', '203.0.113.7');
    throttle.recordFailure('user99', '203.0.113.7');
    expect(refusal(throttle, 'x', '203.0.113.7')).toBeDefined();
  });

  it('counts within a fixed window', () => {
    const time = clock();
    const throttle = new LoginThrottle({ now: time.now });
    for (let user = 0; user < 99; user += 1) throttle.recordFailure(`user${user}`, '203.0.113.7');
    time.advance(DEFAULT_ADDRESS_LIMIT.windowMs);
    throttle.recordFailure('late', '203.0.113.7');
    expect(refusal(throttle, 'x', '203.0.113.7')).toBeUndefined();
  });

  it('counts an IPv6 /64 as one client and IPv4-mapped addresses as IPv4', () => {
    expect(addressKey('2001:db8:1:2::1')).toBe(addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff'));
    expect(addressKey('2001:db8:1:2::1')).not.toBe(addressKey('2001:db8:1:3::1'));
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:cb00:7107')).toBe('203.0.113.7');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('unix-socket')).toBe('unix-socket');

    const throttle = new LoginThrottle({ now: clock().now });
    for (let user = 0; user < 100; user += 1) throttle.recordFailure(`user${user}`, `2001:db8:1:2::${user.toString(16)}`);
    expect(refusal(throttle, 'x', '2001:db8:1:2::beef')).toBeDefined();
    expect(refusal(throttle, 'x', '2001:db8:1:3::beef')).toBeUndefined();
  });

  it('reports the longer wait when both the username and the address are locked', () => {
    const throttle = new LoginThrottle({
      now: clock().now,
      perUsername: { maxFailures: 2, windowMs: MINUTE, lockMs: 10 * SECOND },
      perAddress: { maxFailures: 2, windowMs: MINUTE, lockMs: 40 * SECOND },
    });
    throttle.recordFailure('alice', '10.0.0.1');
    throttle.recordFailure('alice', '10.0.0.1');
    expect(refusal(throttle, 'alice', '10.0.0.1')?.details.retryAfterSeconds).toBe(40);
    expect(refusal(throttle, 'alice', '10.0.0.2')?.details.retryAfterSeconds).toBe(10);
  });
});

describe('LoginThrottle memory', () => {
  it('stays within maxEntries however many usernames and addresses are sprayed', () => {
    const throttle = new LoginThrottle({ now: clock().now, maxEntries: 50 });
    for (let index = 0; index < 10_000; index += 1) throttle.recordFailure(`spray-${index}`, `10.${index >> 8}.${index & 255}.1`);
    expect(throttle.size.usernames).toBeLessThanOrEqual(50);
    expect(throttle.size.addresses).toBeLessThanOrEqual(50);
  });

  it('evicts unlocked entries before the lock of an account under attack', () => {
    const throttle = new LoginThrottle({ now: clock().now, maxEntries: 50 });
    for (let attempt = 0; attempt < 10; attempt += 1) throttle.recordFailure('victim', '203.0.113.7');
    for (let index = 0; index < 1000; index += 1) throttle.recordFailure(`spray-${index}`, `10.0.${index >> 8}.${index & 255}`);
    expect(refusal(throttle, 'victim', '198.51.100.1')).toBeDefined();
  });

  it('drops expired entries when they are looked at', () => {
    const time = clock();
    const throttle = new LoginThrottle({ now: time.now });
    throttle.recordFailure('alice', '10.0.0.1');
    expect(throttle.size).toEqual({ usernames: 1, addresses: 1 });
    time.advance(2 * DEFAULT_USERNAME_LIMIT.windowMs);
    throttle.check('alice', '10.0.0.1');
    expect(throttle.size).toEqual({ usernames: 0, addresses: 0 });
  });

  it('forgets the username on success', () => {
    const throttle = new LoginThrottle({ now: clock().now });
    throttle.recordFailure('alice', '10.0.0.1');
    throttle.recordSuccess('alice', '10.0.0.1');
    expect(throttle.size.usernames).toBe(0);
  });
});
