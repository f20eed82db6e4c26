import { PGlite } from '@electric-sql/pglite';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { numbered } from '../../db/write-transaction';
import { DomainError, ErrorCode } from '../../shared/errors';
import { DEFAULT_ADDRESS_LIMIT, DEFAULT_USERNAME_LIMIT, LoginThrottle, addressKey, type LoginThrottleOptions } from './login-throttle';
import { MemoryThrottleStore, PostgresThrottleStore, type ThrottleStore } from './throttle-store';

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

/** The `login_throttle` table exactly as the migration creates it. */
function migrationSql(): string {
  const source = readFileSync(path.join(__dirname, '../../db/migrations/Migration20261203050000_login_throttle.ts'), 'utf8');
  const match = /addSql\(`([\s\S]*?)`\)/.exec(source);
  if (!match?.[1]) throw new Error('migration SQL not found');
  return match[1];
}

/**
 * Every rule runs against both stores: in memory, and the PostgreSQL statements on an embedded
 * PostgreSQL (PGlite) with the migration's table.
 */
interface StoreUnderTest {
  store: ThrottleStore;
  /** Empties it between tests. */
  reset: () => Promise<ThrottleStore>;
  close: () => Promise<void>;
}

const STORES: Array<[string, () => Promise<StoreUnderTest>]> = [
  ['memory', async () => ({ store: new MemoryThrottleStore(), reset: async () => new MemoryThrottleStore(), close: async () => undefined })],
  [
    'postgres',
    async () => {
      const db = new PGlite();
      await db.exec(migrationSql());
      const run = async <T>(sql: string, params: unknown[]): Promise<T[]> => (await db.query<T>(numbered(sql), params)).rows;
      return {
        store: new PostgresThrottleStore(run),
        reset: async () => {
          await db.exec('truncate login_throttle');
          // A new store: its once-a-minute sweep starts afresh with the clock of the next test.
          return new PostgresThrottleStore(run);
        },
        close: () => db.close(),
      };
    },
  ],
];

describe.each(STORES)('LoginThrottle (%s store)', (_name, makeStore) => {
  let underTest: StoreUnderTest;
  let store: ThrottleStore;
  let time: ReturnType<typeof clock>;
  beforeAll(async () => {
    underTest = await makeStore();
  });
  afterAll(async () => underTest?.close());
  beforeEach(async () => {
    store = await underTest.reset();
    time = clock();
  });

  const throttle = (options: LoginThrottleOptions = {}) => new LoginThrottle({ now: time.now, store, ...options });

  /** One attempt ended as `end`; 'refused' with the error when it was not admitted. */
  async function attempt(
    subject: LoginThrottle,
    username: string,
    address: string,
    end: 'failed' | 'succeeded' | 'abandoned' = 'failed',
  ): Promise<'refused' | 'admitted'> {
    try {
      const admitted = await subject.admit(username, address);
      await admitted[end]();
      return 'admitted';
    } catch (error) {
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe(ErrorCode.TOO_MANY_REQUESTS);
      return 'refused';
    }
  }

  /** Seconds to wait, or undefined when an attempt would be admitted (the probe is given back). */
  async function retryAfter(subject: LoginThrottle, username: string, address: string): Promise<number | undefined> {
    try {
      await (await subject.admit(username, address)).abandoned();
      return undefined;
    } catch (error) {
      return (error as DomainError).details.retryAfterSeconds;
    }
  }

  describe('per username and per (username, address)', () => {
    it('admits 10 failures in a row and refuses the 11th attempt with 429 and Retry-After', async () => {
      const subject = throttle();
      for (let index = 1; index <= 10; index += 1) {
        expect(await attempt(subject, 'alice', '10.0.0.1')).toBe('admitted');
        time.advance(SECOND);
      }
      expect(await retryAfter(subject, 'alice', '10.0.0.1')).toBe(29);
    });

    it('counts an attempt when it starts: 40 concurrent attempts, 10 admitted, none ended yet', async () => {
      const subject = throttle();
      const outcomes = await Promise.allSettled(Array.from({ length: 40 }, () => subject.admit('alice', '10.0.0.1')));
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(10);
    });

    it('counts concurrent attempts from one address at many usernames against the address limit', async () => {
      const subject = throttle({ perAddress: { maxFailures: 7, windowMs: MINUTE, lockMs: MINUTE } });
      const outcomes = await Promise.allSettled(Array.from({ length: 40 }, (_, index) => subject.admit(`user${index}`, '10.0.0.1')));
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(7);
    });

    it('gives an abandoned attempt back (it was never evaluated)', async () => {
      const subject = throttle();
      for (let index = 0; index < 30; index += 1) expect(await attempt(subject, 'alice', '10.0.0.1', 'abandoned')).toBe('admitted');
      for (let index = 0; index < 10; index += 1) expect(await attempt(subject, 'alice', '10.0.0.1')).toBe('admitted');
      expect(await attempt(subject, 'alice', '10.0.0.1')).toBe('refused');
    });

    it('locks the username for addresses that never signed in as it, with a lock that never doubles', async () => {
      const subject = throttle();
      for (let index = 0; index < 10; index += 1) await attempt(subject, 'alice', '10.0.0.1');
      expect(await retryAfter(subject, 'alice', '192.168.1.1')).toBe(30);
      // The guesser's own lock doubles with every further failure; the username's stays at 30 s.
      time.advance(30 * SECOND);
      expect(await attempt(subject, 'alice', '10.0.0.1')).toBe('admitted');
      expect(await retryAfter(subject, 'alice', '10.0.0.1')).toBe(60);
      expect(await retryAfter(subject, 'alice', '192.168.1.1')).toBe(30);
    });

    it("does not lock the owner's own address: a success marks the (username, address) trusted", async () => {
      const subject = throttle();
      expect(await attempt(subject, 'alice', '198.51.100.7', 'succeeded')).toBe('admitted');
      for (let index = 0; index < 25; index += 1) await attempt(subject, 'alice', '203.0.113.66');
      expect(await retryAfter(subject, 'alice', '203.0.113.66')).toBeGreaterThan(0);
      expect(await retryAfter(subject, 'alice', '198.51.100.7')).toBeUndefined();
      // The owner's own mistakes still count, per (username, address).
      for (let index = 0; index < 10; index += 1) expect(await attempt(subject, 'alice', '198.51.100.7')).toBe('admitted');
      expect(await attempt(subject, 'alice', '198.51.100.7')).toBe('refused');
    });

    it('trusts a pair for trustMs only', async () => {
      const subject = throttle({ trustMs: MINUTE });
      await attempt(subject, 'alice', '198.51.100.7', 'succeeded');
      for (let index = 0; index < 10; index += 1) await attempt(subject, 'alice', '203.0.113.66');
      expect(await retryAfter(subject, 'alice', '198.51.100.7')).toBeUndefined();
      time.advance(MINUTE);
      for (let index = 0; index < 10; index += 1) await attempt(subject, 'alice', '203.0.113.67');
      expect(await retryAfter(subject, 'alice', '198.51.100.7')).toBe(30);
    });

    it('does not lock other usernames because one username is locked', async () => {
      const subject = throttle();
      for (let index = 0; index < 10; index += 1) await attempt(subject, 'alice', '10.0.0.1');
      expect(await retryAfter(subject, 'bob', '10.0.0.1')).toBeUndefined();
      expect(await retryAfter(subject, 'bob', '10.0.0.2')).toBeUndefined();
    });

    it('starts counting again after a success', async () => {
      const subject = throttle();
      for (let index = 0; index < 9; index += 1) await attempt(subject, 'alice', '10.0.0.1');
      await attempt(subject, 'alice', '10.0.0.1', 'succeeded');
      for (let index = 0; index < 10; index += 1) expect(await attempt(subject, 'alice', '10.0.0.1')).toBe('admitted');
      expect(await attempt(subject, 'alice', '10.0.0.1')).toBe('refused');
    });

    it("doubles the guesser's lock on each further failure, up to 15 minutes", async () => {
      const subject = throttle();
      for (let index = 0; index < 10; index += 1) await attempt(subject, 'alice', '10.0.0.1');
      const locks: number[] = [];
      for (let round = 0; round < 8; round += 1) {
        const wait = (await retryAfter(subject, 'alice', '10.0.0.1')) ?? 0;
        locks.push(wait);
        time.advance(wait * SECOND - 1);
        expect(await attempt(subject, 'alice', '10.0.0.1')).toBe('refused');
        time.advance(1);
        expect(await attempt(subject, 'alice', '10.0.0.1')).toBe('admitted');
      }
      expect(locks).toEqual([30, 60, 120, 240, 480, 900, 900, 900]);
    });

    it('forgets a streak after an hour without failures', async () => {
      const subject = throttle();
      for (let index = 0; index < 9; index += 1) await attempt(subject, 'alice', '10.0.0.1');
      time.advance(DEFAULT_USERNAME_LIMIT.windowMs);
      for (let index = 0; index < 10; index += 1) expect(await attempt(subject, 'alice', '10.0.0.1')).toBe('admitted');
      expect(await attempt(subject, 'alice', '10.0.0.1')).toBe('refused');
    });

    it('keeps a slow streak: failures spaced under the window still add up', async () => {
      const subject = throttle();
      for (let index = 0; index < 10; index += 1) {
        expect(await attempt(subject, 'alice', '10.0.0.1')).toBe('admitted');
        time.advance(30 * MINUTE);
      }
      // The lock itself has expired by now, but the streak has not: the next failure locks for 60 s.
      expect(await attempt(subject, 'alice', '10.0.0.1')).toBe('admitted');
      expect(await retryAfter(subject, 'alice', '10.0.0.1')).toBe(60);
    });

    it('treats usernames exactly, and long usernames without mixing them up', async () => {
      const subject = throttle();
      const long = 'x'.repeat(5000);
      for (let index = 0; index < 10; index += 1) {
        await attempt(subject, 'Alice', '10.0.0.1');
        await attempt(subject, long, '10.0.0.2');
      }
      expect(await retryAfter(subject, 'alice', '10.0.0.3')).toBeUndefined();
      expect(await retryAfter(subject, 'Alice', '10.0.0.3')).toBeDefined();
      expect(await retryAfter(subject, long, '10.0.0.3')).toBeDefined();
      expect(await retryAfter(subject, `${long}y`, '10.0.0.3')).toBeUndefined();
    });

    it('honours custom limits', async () => {
      const subject = throttle({ perUsername: { maxFailures: 3, windowMs: MINUTE, lockMs: 5 * SECOND } });
      for (let index = 0; index < 3; index += 1) expect(await attempt(subject, 'alice', '10.0.0.1')).toBe('admitted');
      expect(await retryAfter(subject, 'alice', '10.0.0.1')).toBe(5);
    });
  });

  describe('per address', () => {
    it('lets one address fail up to its limit across many usernames, then refuses only that address', async () => {
      const subject = throttle();
      for (let user = 0; user < DEFAULT_ADDRESS_LIMIT.maxFailures; user += 1) {
        expect(await attempt(subject, `user${user}`, '203.0.113.7')).toBe('admitted');
      }
      expect(await retryAfter(subject, 'someone-else', '203.0.113.7')).toBe(60);
      expect(await retryAfter(subject, 'user0', '198.51.100.1')).toBeUndefined();
      expect(await retryAfter(subject, 'someone-else', '198.51.100.1')).toBeUndefined();
    });

    it('is not reset by a success (a valid account must not launder a spray)', async () => {
      const subject = throttle();
      for (let user = 0; user < 99; user += 1) await attempt(subject, `user${user}`, '203.0.113.7');
      await attempt(subject, 'mallory', '203.0.113.7', 'succeeded');
      await attempt(subject, 'user99', '203.0.113.7');
      expect(await retryAfter(subject, 'x', '203.0.113.7')).toBeDefined();
    });

    it('counts within a fixed window', async () => {
      const subject = throttle();
      for (let user = 0; user < 99; user += 1) await attempt(subject, `user${user}`, '203.0.113.7');
      time.advance(DEFAULT_ADDRESS_LIMIT.windowMs);
      await attempt(subject, 'late', '203.0.113.7');
      expect(await retryAfter(subject, 'x', '203.0.113.7')).toBeUndefined();
    });

    it('counts an IPv6 /64 as one client', async () => {
      const subject = throttle();
      for (let user = 0; user < 100; user += 1) await attempt(subject, `user${user}`, `2001:db8:1:2::${user.toString(16)}`);
      expect(await retryAfter(subject, 'x', '2001:db8:1:2::beef')).toBeDefined();
      expect(await retryAfter(subject, 'x', '2001:db8:1:3::beef')).toBeUndefined();
    });

    it('counts credentials that do not decode against the address only', async () => {
      const subject = throttle({ perAddress: { maxFailures: 3, windowMs: MINUTE, lockMs: MINUTE } });
      for (let index = 0; index < 3; index += 1) await subject.recordAddressFailure('10.0.0.9');
      await expect(subject.recordAddressFailure('10.0.0.9')).rejects.toMatchObject({ code: ErrorCode.TOO_MANY_REQUESTS });
      expect(await retryAfter(subject, 'alice', '10.0.0.9')).toBe(60);
      expect(await retryAfter(subject, 'alice', '10.0.0.10')).toBeUndefined();
    });

    it('reads the pair and address locks without counting (pairLockedFor)', async () => {
      const subject = throttle({ perAddress: { maxFailures: 2, windowMs: MINUTE, lockMs: 40 * SECOND } });
      expect(await subject.pairLockedFor('alice', '10.0.0.1')).toBe(0);
      await attempt(subject, 'alice', '10.0.0.1');
      await attempt(subject, 'bob', '10.0.0.1');
      expect(await subject.pairLockedFor('carol', '10.0.0.1')).toBe(40 * SECOND);
      expect(await subject.pairLockedFor('carol', '10.0.0.2')).toBe(0);
    });
  });
});

describe('LoginThrottle options and keys', () => {
  it('rejects nonsensical limits', () => {
    expect(() => new LoginThrottle({ perUsername: { maxFailures: 0, windowMs: 1, lockMs: 1 } })).toThrow(RangeError);
    expect(() => new LoginThrottle({ perAddress: { maxFailures: 1, windowMs: 0, lockMs: 1 } })).toThrow(RangeError);
    expect(() => new LoginThrottle({ maxEntries: 0 })).toThrow(RangeError);
  });

  it('keeps the address limit looser than the username limit', () => {
    expect(DEFAULT_ADDRESS_LIMIT.maxFailures).toBeGreaterThanOrEqual(10 * DEFAULT_USERNAME_LIMIT.maxFailures);
  });

  it('keys an IPv6 /64 as one client and IPv4-mapped addresses as IPv4', () => {
    expect(addressKey('2001:db8:1:2::1')).toBe(addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff'));
    expect(addressKey('2001:db8:1:2::1')).not.toBe(addressKey('2001:db8:1:3::1'));
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:cb00:7107')).toBe('203.0.113.7');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('unix-socket')).toBe('unix-socket');
  });
});

describe('MemoryThrottleStore', () => {
  it('stays within maxEntries however many usernames and addresses are sprayed', async () => {
    const store = new MemoryThrottleStore(50);
    const subject = new LoginThrottle({ now: clock().now, store });
    for (let index = 0; index < 2_000; index += 1) {
      await (await subject.admit(`spray-${index}`, `10.${index >> 8}.${index & 255}.1`)).failed();
    }
    expect(store.size).toBeLessThanOrEqual(50);
  });

  it('evicts unlocked entries before the lock of an account under attack', async () => {
    const store = new MemoryThrottleStore(50);
    const subject = new LoginThrottle({ now: clock().now, store });
    for (let index = 0; index < 10; index += 1) await (await subject.admit('victim', '203.0.113.7')).failed();
    for (let index = 0; index < 1000; index += 1) await (await subject.admit(`spray-${index}`, `10.0.${index >> 8}.${index & 255}`)).failed();
    await expect(subject.admit('victim', '198.51.100.1')).rejects.toMatchObject({ code: ErrorCode.TOO_MANY_REQUESTS });
  });
});
