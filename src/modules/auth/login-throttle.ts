import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { DomainError, ErrorCode } from '../../shared/errors';

/** One throttling rule: how many failures lock, over what window, and for how long. */
export interface ThrottleLimit {
  /** Failures that are still answered normally; the attempt after the last of them is refused. */
  readonly maxFailures: number;
  /** How long failures are remembered (see {@link LoginThrottle} for how each key counts it). */
  readonly windowMs: number;
  /** First lock; every further failure past the limit doubles it. */
  readonly lockMs: number;
  /** Longest lock the doubling can reach. Default 15 minutes. */
  readonly maxLockMs?: number;
}

/** Options of {@link LoginThrottle}. */
export interface LoginThrottleOptions {
  readonly perUsername?: ThrottleLimit;
  readonly perAddress?: ThrottleLimit;
  /** Most usernames (and, separately, most addresses) remembered at once. Default 10,000 each. */
  readonly maxEntries?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

const MINUTE = 60_000;

/** SPEC: no 429 before the 10th consecutive failure for a username. */
export const DEFAULT_USERNAME_LIMIT: Readonly<Required<ThrottleLimit>> = {
  maxFailures: 10,
  windowMs: 60 * MINUTE,
  lockMs: 30_000,
  maxLockMs: 15 * MINUTE,
};

/**
 * Much looser than per username: many people can share one address (an office NAT), and the
 * username limit is the one that protects accounts. This one caps password spraying across
 * usernames from one client.
 */
export const DEFAULT_ADDRESS_LIMIT: Readonly<Required<ThrottleLimit>> = {
  maxFailures: 100,
  windowMs: 10 * MINUTE,
  lockMs: 60_000,
  maxLockMs: 15 * MINUTE,
};

const DEFAULT_MAX_ENTRIES = 10_000;
const TOO_MANY_FAILURES_MESSAGE = 'Too many failed login attempts, retry later';

/** How far from the oldest entry eviction looks for one that is not locked. */
const EVICTION_SCAN = 32;

interface Entry {
  failures: number;
  windowStart: number;
  lastFailureAt: number;
  lockedUntil: number;
}

/**
 * Failure counts for one kind of key, in a Map kept in least-recently-failed order so the oldest
 * entry is the first one evicted when the bound is reached.
 */
class FailureCounter {
  private readonly entries = new Map<string, Entry>();
  private readonly limit: Required<ThrottleLimit>;

  constructor(
    limit: ThrottleLimit,
    /** `last`: a streak, forgotten after windowMs without failure. `first`: a fixed window. */
    private readonly anchor: 'first' | 'last',
    private readonly maxEntries: number,
  ) {
    this.limit = { ...limit, maxLockMs: limit.maxLockMs ?? 15 * MINUTE };
    const { maxFailures, windowMs, lockMs, maxLockMs } = this.limit;
    if (!Number.isInteger(maxFailures) || maxFailures < 1) throw new RangeError('maxFailures must be an integer >= 1');
    if (!(windowMs > 0 && lockMs > 0 && maxLockMs >= lockMs)) {
      throw new RangeError('windowMs and lockMs must be positive, maxLockMs at least lockMs');
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** Milliseconds until `key` may try again; 0 when it is not locked. */
  lockedFor(key: string, now: number): number {
    const entry = this.entries.get(key);
    if (!entry) return 0;
    if (this.isStale(entry, now)) {
      this.entries.delete(key);
      return 0;
    }
    return Math.max(0, entry.lockedUntil - now);
  }

  recordFailure(key: string, now: number): void {
    let entry = this.entries.get(key);
    if (!entry || this.isStale(entry, now)) entry = { failures: 0, windowStart: now, lastFailureAt: now, lockedUntil: 0 };
    entry.failures += 1;
    entry.lastFailureAt = now;
    const beyond = entry.failures - this.limit.maxFailures;
    if (beyond >= 0) {
      const lockMs = Math.min(this.limit.lockMs * 2 ** Math.min(beyond, 30), this.limit.maxLockMs);
      entry.lockedUntil = Math.max(entry.lockedUntil, now + lockMs);
    }
    // Re-insert so Map order stays least-recently-failed first.
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.evict(now);
  }

  reset(key: string): void {
    this.entries.delete(key);
  }

  private isStale(entry: Entry, now: number): boolean {
    const since = this.anchor === 'first' ? entry.windowStart : entry.lastFailureAt;
    return now >= entry.lockedUntil && now - since >= this.limit.windowMs;
  }

  /**
   * Drops entries beyond the bound, preferring stale or unlocked ones among the oldest: spraying
   * fresh usernames should not be a cheap way to flush the lock of the account under attack.
   */
  private evict(now: number): void {
    while (this.entries.size > this.maxEntries) {
      let victim: string | undefined;
      let scanned = 0;
      for (const [key, entry] of this.entries) {
        if (scanned++ >= EVICTION_SCAN) break;
        if (this.isStale(entry, now) || entry.lockedUntil <= now) {
          victim = key;
          break;
        }
      }
      this.entries.delete(victim ?? (this.entries.keys().next().value as string));
    }
  }
}

/**
 * Usernames are attacker-chosen and can be kilobytes long; long ones are keyed by their digest
 * so the memory bound holds in bytes, not only in entries.
 */
function usernameKey(username: string): string {
  return username.length <= 64 ? `u:${username}` : `h:${createHash('sha256').update(username).digest('base64')}`;
}

/** Expands an IPv6 address to its 8 groups; undefined when it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  if (!isIPv6(address)) return undefined;
  let text = address.split('%')[0] ?? address;
  // A trailing dotted IPv4 (::ffff:1.2.3.4) becomes two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted[1].split('.').map(Number);
    text = `${text.slice(0, -dotted[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The key an address is counted under. An IPv6 client usually controls a whole /64, so counting
 * single addresses would let it rotate past the limit; IPv4-mapped addresses count as IPv4.
 */
export function addressKey(address: string): string {
  if (isIPv4(address)) return address;
  const groups = ipv6Groups(address);
  if (!groups) return address.length <= 64 ? address : createHash('sha256').update(address).digest('base64');
  const isMappedIPv4 = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
  if (isMappedIPv4) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
  }
  return `${groups.slice(0, 4).map((group) => group.toString(16)).join(':')}::/64`;
}

/**
 * Throttles failed logins (SPEC, legacy endpoint 429).
 *
 * - Per username: a streak of consecutive failures, reset by a success or by `windowMs` without
 *   a failure. The 10th failure is still answered 401; from then the username is locked for
 *   30 s, doubling with every further failure up to 15 minutes.
 * - Per client address (IPv6 by /64): failures within a fixed window, a much higher limit, so
 *   a client spraying many usernames is slowed down. A success does not reset it (one valid
 *   account must not launder a spray). An address lock only refuses that address: one client's
 *   failures never lock other users out.
 *
 * State is in memory, per process, bounded by `maxEntries` per kind of key.
 */
export class LoginThrottle {
  private readonly usernames: FailureCounter;
  private readonly addresses: FailureCounter;
  private readonly now: () => number;

  constructor(options: LoginThrottleOptions = {}) {
    const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be an integer >= 1');
    this.usernames = new FailureCounter(options.perUsername ?? DEFAULT_USERNAME_LIMIT, 'last', maxEntries);
    this.addresses = new FailureCounter(options.perAddress ?? DEFAULT_ADDRESS_LIMIT, 'first', maxEntries);
    this.now = options.now ?? Date.now;
  }

  /**
   * Call before verifying a password.
   *
   * @throws DomainError TOO_MANY_REQUESTS with `details.retryAfterSeconds` when the username or
   *   the address is locked.
   */
  check(username: string, address: string): void {
    const now = this.now();
    const waitMs = Math.max(
      this.usernames.lockedFor(usernameKey(username), now),
      this.addresses.lockedFor(addressKey(address), now),
    );
    if (waitMs > 0) {
      throw new DomainError(ErrorCode.TOO_MANY_REQUESTS, TOO_MANY_FAILURES_MESSAGE, {
        retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
      });
    }
  }

  /** Call after a failed login (wrong password or unknown username alike). */
  recordFailure(username: string, address: string): void {
    const now = this.now();
    this.usernames.recordFailure(usernameKey(username), now);
    this.addresses.recordFailure(addressKey(address), now);
  }

  /**
   * For a credential that names no username that can be trusted (malformed, or not encrypted
   * under the server's key): only the address is checked.
   *
   * @throws DomainError TOO_MANY_REQUESTS like {@link check} when the address is locked.
   */
  checkAddress(address: string): void {
    const waitMs = this.addresses.lockedFor(addressKey(address), this.now());
    if (waitMs > 0) {
      throw new DomainError(ErrorCode.TOO_MANY_REQUESTS, TOO_MANY_FAILURES_MESSAGE, {
        retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
      });
    }
  }

  /** A failure that counts against the address only (see {@link checkAddress}). */
  recordAddressFailure(address: string): void {
    this.addresses.recordFailure(addressKey(address), this.now());
  }

  /** Call after a successful login: ends the username's streak of failures. */
  recordSuccess(username: string, _address: string): void {
    this.usernames.reset(usernameKey(username));
  }

  /** Entries held, for tests and metrics. */
  get size(): { usernames: number; addresses: number } {
    return { usernames: this.usernames.size, addresses: this.addresses.size };
  }
}
