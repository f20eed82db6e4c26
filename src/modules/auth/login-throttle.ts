import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { DomainError, ErrorCode } from '../../shared/errors';
import { MemoryThrottleStore, assertRule, type CounterRule, type ThrottleStore } from './throttle-store';

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
  /** The limit per username and per (username, address); see {@link LoginThrottle}. */
  readonly perUsername?: ThrottleLimit;
  readonly perAddress?: ThrottleLimit;
  /** How long a success marks its (username, address) as the owner's. Default 30 days. */
  readonly trustMs?: number;
  /** Where counters live. Default: in this process's memory, at most `maxEntries` keys. */
  readonly store?: ThrottleStore;
  /** Keys remembered by the default in-memory store. Default 30,000. */
  readonly maxEntries?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

const MINUTE = 60_000;

/** docs/contract.md: no 429 before the 10th consecutive failure for a username. */
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

const TOO_MANY_FAILURES_MESSAGE = 'Too many failed login attempts, retry later';

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
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

/** Throttle keys of one attempt. */
function keysOf(username: string, address: string): { user: string; pair: string; address: string } {
  const user = usernameKey(username);
  const client = addressKey(address);
  return { user: `u:${user}`, pair: `p:${client}|${user}`, address: `a:${client}` };
}

/** The 429 refusal of a locked attempt. */
export function tooManyFailures(waitMs: number): DomainError {
  return new DomainError(ErrorCode.TOO_MANY_REQUESTS, TOO_MANY_FAILURES_MESSAGE, {
    retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
  });
}

/**
 * An admitted login attempt. It was counted as a failure when it was admitted; the caller ends it
 * exactly once: {@link succeeded}, {@link failed}, or {@link abandoned} when the password was
 * never evaluated (hashing saturated, the database down).
 */
export interface LoginAttempt {
  /** The right password: the streaks end and this (username, address) is trusted. */
  succeeded(): Promise<void>;
  /** The wrong password or an unknown username: it stays counted. */
  failed(): Promise<void>;
  /** Not evaluated: uncounted again. */
  abandoned(): Promise<void>;
}

const DEFAULT_TRUST_MS = 30 * 24 * 60 * MINUTE;
const MAX_SEEN_LOCKS = 10_000;

/**
 * Throttles failed logins (docs/contract.md, legacy endpoint 429) with three counters per attempt, taken
 * before the password is evaluated (check and count in one atomic step per counter), so N
 * concurrent guesses get at most the limit evaluated and the rest 429, in one process or in
 * many sharing a {@link ThrottleStore}:
 *
 * - **Per client address** (IPv6 by /64): attempts in a fixed window (100 in 10 minutes), lock
 *   60 s doubling to 15 minutes. A success gives its attempt back but does not reset the count
 *   (one valid account must not launder a spray).
 * - **Per (username, address)**: a streak of failures; the 10th locks for 30 s, each further one
 *   doubles the lock up to 15 minutes. A stranger's guesses escalate only their own lock.
 * - **Per username, from every address**: the same streak of 10, but its lock stays at 30 s
 *   (it never doubles), and it does not apply to a (username, address) that has signed in
 *   successfully within `trustMs`: that is the owner's own address, and a stranger's guesses
 *   must not lock the owner out. It is there for guessers spread over many addresses.
 *
 * A success ends the username's and the pair's streaks and marks the pair trusted.
 */
export class LoginThrottle {
  private readonly userRule: CounterRule;
  private readonly pairRule: CounterRule;
  private readonly addressRule: CounterRule;
  private readonly trustMs: number;
  readonly store: ThrottleStore;
  private readonly now: () => number;
  /**
   * Locks this process has seen in a shared store's answers (key → until), so that
   * {@link pairLockedFor} needs no query. Bounded; a lock set by another process is learnt from
   * the first attempt here that the store refuses.
   */
  private readonly seenLocks = new Map<string, number>();

  constructor(options: LoginThrottleOptions = {}) {
    const perUsername = options.perUsername ?? DEFAULT_USERNAME_LIMIT;
    const perAddress = options.perAddress ?? DEFAULT_ADDRESS_LIMIT;
    const maxLock = (limit: ThrottleLimit) => limit.maxLockMs ?? 15 * MINUTE;
    this.pairRule = { ...perUsername, maxLockMs: maxLock(perUsername), anchor: 'last' };
    this.userRule = { ...perUsername, maxLockMs: perUsername.lockMs, anchor: 'last' };
    this.addressRule = { ...perAddress, maxLockMs: maxLock(perAddress), anchor: 'first' };
    for (const rule of [this.pairRule, this.userRule, this.addressRule]) assertRule(rule);
    this.trustMs = options.trustMs ?? DEFAULT_TRUST_MS;
    if (!Number.isSafeInteger(this.trustMs) || this.trustMs < 0) throw new RangeError('trustMs must be a non-negative integer');
    this.store = options.store ?? new MemoryThrottleStore(options.maxEntries);
    this.now = options.now ?? Date.now;
  }

  /**
   * Admits and counts one login attempt before its password is evaluated.
   *
   * @throws DomainError TOO_MANY_REQUESTS with `details.retryAfterSeconds` when the address, the
   *   (username, address) or (unless that pair is trusted) the username is locked; nothing is
   *   counted then.
   */
  async admit(username: string, address: string): Promise<LoginAttempt> {
    const keys = keysOf(username, address);
    const now = this.now();
    const taken: Array<[string, CounterRule]> = [];
    const take = async (key: string, rule: CounterRule) => {
      const outcome = await this.store.take(key, rule, now);
      if (outcome.lockedUntil > now && key !== keys.user) this.seeLock(key, outcome.lockedUntil, now);
      return outcome;
    };
    const refuse = async (waitMs: number): Promise<never> => {
      await this.giveBackAll(taken, now);
      throw tooManyFailures(waitMs);
    };
    const addressTake = await take(keys.address, this.addressRule);
    if (!addressTake.admitted) return refuse(addressTake.waitMs);
    taken.push([keys.address, this.addressRule]);
    const pairTake = await take(keys.pair, this.pairRule);
    if (!pairTake.admitted) return refuse(pairTake.waitMs);
    taken.push([keys.pair, this.pairRule]);
    if (!pairTake.trusted) {
      const userTake = await this.store.take(keys.user, this.userRule, now);
      if (!userTake.admitted) return refuse(userTake.waitMs);
      taken.push([keys.user, this.userRule]);
    }

    let ended = false;
    const end = async (action: () => Promise<void>) => {
      if (ended) return;
      ended = true;
      await action();
    };
    return {
      succeeded: () =>
        end(async () => {
          const at = this.now();
          await this.store.giveBack(keys.address, this.addressRule, at);
          await this.store.succeed(keys.pair, this.trustMs > 0 ? at + this.trustMs : 0, at);
          this.seenLocks.delete(keys.pair);
          await this.store.succeed(keys.user, 0, at);
        }),
      failed: () => end(async () => undefined),
      abandoned: () => end(() => this.giveBackAll(taken, this.now())),
    };
  }

  /**
   * For a credential that names no username that can be trusted (malformed, or not encrypted
   * under the server's key): counted as a failure against the address only.
   *
   * @throws DomainError TOO_MANY_REQUESTS like {@link admit} when the address is locked.
   */
  async recordAddressFailure(address: string): Promise<void> {
    const key = keysOf('', address).address;
    const now = this.now();
    const taken = await this.store.take(key, this.addressRule, now);
    if (taken.lockedUntil > now) this.seeLock(key, taken.lockedUntil, now);
    if (!taken.admitted) throw tooManyFailures(taken.waitMs);
  }

  /**
   * Milliseconds this (username, address) must still wait because of its own lock or its
   * address's; 0 when neither is locked. Reads only: it counts nothing. The username's lock is
   * not included (see {@link LoginThrottle}: it does not apply to the owner's address).
   *
   * For a password already verified (the cache's fast path), on every request: with the
   * in-memory store it reads the store; with a shared one it answers from the locks this process
   * has seen, with no query. Only the right password takes that path and every wrong guess goes
   * through {@link admit}, whose refusal teaches this process the lock, so a guesser locked by
   * another process gets at most one right guess past it per process.
   */
  pairLockedFor(username: string, address: string): Promise<number> {
    const keys = keysOf(username, address);
    return this.lockedFor([keys.address, keys.pair]);
  }

  /**
   * Milliseconds the address must still wait; 0 when it is not locked. Reads only, and asks no
   * shared store: the HTTP layer calls it before reading any body (auth-before-body.ts).
   */
  addressLockedFor(address: string): Promise<number> {
    return this.lockedFor([keysOf('', address).address]);
  }

  /** The memory store's locks, or for a shared store the locks this process has seen (no query). */
  private async lockedFor(keys: readonly string[]): Promise<number> {
    const now = this.now();
    if (this.store.kind === 'memory') return this.store.lockedFor(keys, now);
    let wait = 0;
    for (const key of keys) {
      const until = this.seenLocks.get(key);
      if (until === undefined) continue;
      if (until <= now) this.seenLocks.delete(key);
      else wait = Math.max(wait, until - now);
    }
    return wait;
  }

  private seeLock(key: string, until: number, now: number): void {
    this.seenLocks.delete(key);
    this.seenLocks.set(key, until);
    // Bounded like the caches: expired entries first, then the oldest.
    if (this.seenLocks.size > MAX_SEEN_LOCKS) {
      for (const [seen, seenUntil] of this.seenLocks) if (seenUntil <= now) this.seenLocks.delete(seen);
      while (this.seenLocks.size > MAX_SEEN_LOCKS) this.seenLocks.delete(this.seenLocks.keys().next().value as string);
    }
  }

  private async giveBackAll(taken: ReadonlyArray<[string, CounterRule]>, now: number): Promise<void> {
    for (const [key, rule] of taken) await this.store.giveBack(key, rule, now);
  }
}
