import { createHash, createHmac, randomBytes } from 'node:crypto';
import { DomainError, ErrorCode, unauthenticated } from '../../shared/errors';
import { Role, normalizeRoles } from '../user/role';
import type { Viewer } from '../user/viewer';
import { decodeCredential, normalizeCredentialHex } from './credential';
import { LoginThrottle, addressKey, tooManyFailures } from './login-throttle';
import { PasswordHasher } from './password';

/** What authentication needs to know about a user; the user module's repository provides it. */
export interface StoredUser {
  id: number;
  username: string;
  /** From `hashPassword`. */
  passwordHash: string;
  roles: Role[];
  isAdmin: boolean;
  /** False for a deactivated account: refused exactly like a wrong password. Absent means active. */
  active?: boolean;
}

/** Finds a user by the exact username in a credential. */
export interface UserLookup {
  findByUsername(username: string): Promise<StoredUser | null>;
  /**
   * Replaces a password hash by a stronger one (rehash on sign-in), only if it is still
   * `expected`. Without it, stored hashes keep their parameters.
   *
   * @returns whether the row was updated.
   */
  replacePasswordHash?(userId: number, expected: string, replacement: string): Promise<boolean>;
}

/** Options of {@link AuthService}. */
export interface AuthServiceOptions {
  /** The 32-byte AES-256-GCM key shared with clients (`AppConfig.credentialKey`). */
  key: Buffer;
  users: UserLookup;
  /** Defaults to a LoginThrottle with the docs/contract.md limits, in memory, and the same clock. */
  throttle?: LoginThrottle;
  /** Defaults to scrypt at OWASP's parameters, two at once. */
  hasher?: PasswordHasher;
  /**
   * How long a verified password is trusted before its user is read again (password hash
   * unchanged, roles and admin flag refreshed; no scrypt). Default 60 s; 0 disables the caches.
   */
  cacheTtlMs?: number;
  /** A verified password unused this long is forgotten. Default 15 minutes (the longest lock). */
  cacheIdleMs?: number;
  /** Most passwords (and, separately, most credentials) remembered; least recently used go first. Default 10,000. */
  cacheMaxEntries?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** A (username, password) pair that was verified. */
interface Verified {
  viewer: Viewer;
  /** The stored hash it was verified against: if the row's hash changes, the entry is void. */
  passwordHash: string;
  verifiedAt: number;
  lastUsedAt: number;
  /** Address keys this pair signed in from, at most {@link MAX_ADDRESSES_PER_ENTRY}. */
  readonly addresses: Set<string>;
  refreshing?: Promise<Verified | undefined>;
}

const DEFAULT_CACHE_TTL_MS = 60_000;
const DEFAULT_CACHE_IDLE_MS = 15 * 60_000;
const DEFAULT_CACHE_MAX_ENTRIES = 10_000;
const MAX_ADDRESSES_PER_ENTRY = 8;

function toViewer(user: StoredUser): Viewer {
  return Object.freeze({
    id: user.id,
    username: user.username,
    roles: Object.freeze(normalizeRoles(user.roles)),
    isAdmin: user.isAdmin,
  });
}

/**
 * Turns a credential into the {@link Viewer} a request acts as (docs/contract.md "Credential"), and checks
 * passwords for every way of signing in, throttled.
 *
 * A password check is a scrypt at OWASP's cost (128 MiB, a few hundred ms), so two caches keep it
 * off the hot path:
 *
 * - **credentials**: the SHA-256 of the normalized credential → the verified pair below. A client
 *   that reuses its credential costs a hash and two Map lookups: no decryption, no query.
 * - **verified passwords**: an HMAC-SHA-256, under a random key of this process, of the username
 *   and the decrypted password → the viewer and the stored hash it was checked against. A client
 *   that encrypts its password with a fresh nonce on every request costs one AES-GCM decryption
 *   more, not a scrypt. Neither the password nor an unkeyed digest of it is kept.
 *
 * Entries slide: they live while in use (`cacheIdleMs` after the last use), and every
 * `cacheTtlMs` the user is read again (one query, no scrypt): a changed password hash voids the
 * entry, changed roles are picked up. `invalidateUser` drops a user's entries at once.
 *
 * Throttling ({@link LoginThrottle}) counts an attempt before its password is evaluated. A
 * credential already verified skips it, and so does a verified password sent from an address it
 * was verified from, unless that address or pair is locked: a stranger guessing at a username
 * never locks its owner out, and a guess is never answered from the cache without admission.
 *
 * The caches are per process: `invalidateUser` clears this process only. Changes to a user reach
 * every process's `invalidateUser` over the event bus (realtime/user-changes.ts); `cacheTtlMs`
 * bounds how long a lost notification could leave an entry behind.
 */
export class AuthService {
  private readonly key: Buffer;
  private readonly users: UserLookup;
  readonly throttle: LoginThrottle;
  readonly hasher: PasswordHasher;
  private readonly now: () => number;
  private readonly cacheTtlMs: number;
  private readonly cacheIdleMs: number;
  private readonly cacheMaxEntries: number;
  /** Per process, never stored: the verified-password cache keys are useless anywhere else. */
  private readonly digestKey = randomBytes(32);
  /** Credential digest → verified-password key. Map order is least recently used first. */
  private readonly credentials = new Map<string, string>();
  /** Verified-password key → entry. Map order is least recently used first. */
  private readonly verified = new Map<string, Verified>();
  private readonly inFlight = new Map<string, Promise<Viewer>>();
  private readonly inFlightPasswords = new Map<string, Promise<{ viewer: Viewer; passwordKey: string }>>();
  /**
   * Bumped by every invalidation. A verification that started before a bump may have read the
   * old password or roles, so its result is returned to its callers but not cached.
   */
  private generation = 0;

  constructor(options: AuthServiceOptions) {
    if (!Buffer.isBuffer(options.key) || options.key.length !== 32) {
      throw new RangeError('The credential key must be 32 bytes (AES-256)');
    }
    this.key = options.key;
    this.users = options.users;
    this.now = options.now ?? Date.now;
    this.throttle = options.throttle ?? new LoginThrottle({ now: this.now });
    this.hasher = options.hasher ?? new PasswordHasher();
    this.cacheTtlMs = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
    this.cacheIdleMs = Math.max(options.cacheIdleMs ?? DEFAULT_CACHE_IDLE_MS, this.cacheTtlMs);
    this.cacheMaxEntries = options.cacheMaxEntries ?? DEFAULT_CACHE_MAX_ENTRIES;
  }

  /**
   * Verifies a credential and returns the viewer it belongs to.
   *
   * @param credential the credential hex as received (any type; it comes straight from input).
   * @param clientAddress the client's IP address, for failed-login throttling.
   * @throws DomainError UNAUTHENTICATED (401) for a missing, malformed, undecryptable or wrong
   *   credential and for an unknown username, all with one message.
   * @throws DomainError TOO_MANY_REQUESTS (429) while the username or the address is locked.
   * @throws DomainError UNAVAILABLE (503) when too many password hashes are already running.
   */
  async authenticate(credential: unknown, clientAddress: string): Promise<Viewer> {
    // No credential at all is not a login attempt: refused, but not counted against anyone.
    if (credential === undefined || credential === null || credential === '') throw unauthenticated();
    let normalized: string;
    try {
      normalized = normalizeCredentialHex(credential);
    } catch {
      throw await this.refuseUndecodable(clientAddress);
    }
    const credentialKey = createHash('sha256').update(normalized).digest('base64');

    // A hit skips the throttle on purpose: this exact credential proved the right password, so a
    // lock caused by someone else guessing at this username must not lock its owner out.
    const passwordKey = this.credentials.get(credentialKey);
    if (passwordKey !== undefined) {
      this.credentials.delete(credentialKey);
      const viewer = await this.use(passwordKey);
      if (viewer) {
        this.credentials.set(credentialKey, passwordKey);
        return viewer;
      }
    }

    const pending = this.inFlight.get(credentialKey);
    if (pending) return pending;
    const verification = this.verifyCredential(normalized, credentialKey, clientAddress).finally(() => {
      if (this.inFlight.get(credentialKey) === verification) this.inFlight.delete(credentialKey);
    });
    this.inFlight.set(credentialKey, verification);
    return verification;
  }

  /**
   * Checks a username and password, throttled like a credential and sharing its cache: the one
   * password check of every way of signing in (credentials, and sign-in with a password).
   *
   * @throws DomainError UNAUTHENTICATED, TOO_MANY_REQUESTS, UNAVAILABLE like {@link authenticate}.
   */
  async verifyPassword(username: unknown, password: unknown, clientAddress: string): Promise<Viewer> {
    if (typeof username !== 'string' || username.length === 0 || typeof password !== 'string') throw unauthenticated();
    return (await this.checkPassword(username, password, clientAddress)).viewer;
  }

  /**
   * Refuses a client address that failed too many logins, before anything else is done for its
   * request (the HTTP layer calls it before reading a body). Counts nothing and asks no shared
   * store: with one it answers from the locks this process has seen
   * ({@link LoginThrottle.addressLockedFor}); the sign-in's own admission is the authoritative check.
   *
   * @throws DomainError TOO_MANY_REQUESTS while the address is known to be locked.
   */
  async assertAddressNotLocked(clientAddress: string): Promise<void> {
    const waitMs = await this.throttle.addressLockedFor(clientAddress);
    if (waitMs > 0) throw tooManyFailures(waitMs);
  }

  /**
   * Forgets every cached verification of this user. Call after changing their password, roles or
   * admin flag, so the next request is checked against the new state.
   */
  invalidateUser(userId: number): void {
    this.generation += 1;
    for (const [passwordKey, entry] of this.verified) {
      if (entry.viewer.id === userId) this.verified.delete(passwordKey);
    }
    // Verifications already running may have read the old state: later requests must not join them.
    this.inFlight.clear();
    this.inFlightPasswords.clear();
  }

  private async verifyCredential(normalized: string, credentialKey: string, clientAddress: string): Promise<Viewer> {
    const generation = this.generation;
    let decoded: { username: string; password: string };
    try {
      decoded = decodeCredential(normalized, this.key);
    } catch {
      throw await this.refuseUndecodable(clientAddress);
    }
    const { viewer, passwordKey } = await this.checkPassword(decoded.username, decoded.password, clientAddress);
    if (generation === this.generation && this.verified.has(passwordKey)) {
      this.credentials.set(credentialKey, passwordKey);
      this.evict(this.credentials);
    }
    return viewer;
  }

  private async checkPassword(username: string, password: string, clientAddress: string): Promise<{ viewer: Viewer; passwordKey: string }> {
    const passwordKey = createHmac('sha256', this.digestKey).update(username).update('\0').update(password).digest('base64');
    const entry = this.verified.get(passwordKey);
    // The owner's own address, already verified: no admission, so no lock of the username can
    // stop it; but a locked address or pair (guessing from here) is refused, so the cache is
    // never an oracle for guesses that the throttle would refuse.
    if (entry && entry.addresses.has(addressKey(clientAddress)) && this.live(entry)) {
      const waitMs = await this.throttle.pairLockedFor(username, clientAddress);
      if (waitMs > 0) {
        throw tooManyFailures(waitMs);
      }
      const viewer = await this.use(passwordKey);
      if (viewer) return { viewer, passwordKey };
    }

    const pending = this.inFlightPasswords.get(passwordKey);
    if (pending) return pending;
    const check = this.admitAndCheck(username, password, passwordKey, clientAddress).finally(() => {
      if (this.inFlightPasswords.get(passwordKey) === check) this.inFlightPasswords.delete(passwordKey);
    });
    this.inFlightPasswords.set(passwordKey, check);
    return check;
  }

  private async admitAndCheck(
    username: string,
    password: string,
    passwordKey: string,
    clientAddress: string,
  ): Promise<{ viewer: Viewer; passwordKey: string }> {
    const generation = this.generation;
    // Counted before anything is evaluated: concurrent guesses cannot overshoot the limit.
    const attempt = await this.throttle.admit(username, clientAddress);
    let outcome: 'success' | 'failure' | undefined;
    try {
      // Verified before (from another address): admitted now, so the cache may answer.
      const known = await this.use(passwordKey);
      if (known) {
        outcome = 'success';
        this.rememberAddress(passwordKey, clientAddress);
        return { viewer: known, passwordKey };
      }
      const user = await this.users.findByUsername(username);
      // An unknown username still pays for one scrypt, so timing does not reveal which names exist.
      const matches = await this.hasher.verify(password, user?.passwordHash);
      // A deactivated account is answered exactly like a wrong password.
      if (!user || !matches || user.active === false) {
        outcome = 'failure';
        throw unauthenticated();
      }
      const passwordHash = await this.rehashIfWeak(user, password);
      outcome = 'success';
      const viewer = toViewer(user);
      if (generation === this.generation) this.remember(passwordKey, { viewer, passwordHash }, clientAddress);
      return { viewer, passwordKey };
    } finally {
      // A check that was never evaluated (hashing saturated, database down) is not a failure.
      if (outcome === 'success') await attempt.succeeded();
      else if (outcome === 'failure') await attempt.failed();
      else await attempt.abandoned();
    }
  }

  /** Replaces a hash weaker than the hasher's parameters; returns the hash now stored. */
  private async rehashIfWeak(user: StoredUser, password: string): Promise<string> {
    if (!this.users.replacePasswordHash || !this.hasher.needsRehash(user.passwordHash)) return user.passwordHash;
    try {
      const replacement = await this.hasher.hash(password);
      return (await this.users.replacePasswordHash(user.id, user.passwordHash, replacement)) ? replacement : user.passwordHash;
    } catch (error) {
      // Saturated: the sign-in succeeds anyway and a later one rehashes.
      if (error instanceof DomainError && error.code === ErrorCode.UNAVAILABLE) return user.passwordHash;
      throw error;
    }
  }

  /** Whether an entry has been used recently enough to keep. */
  private live(entry: Verified): boolean {
    return this.now() - entry.lastUsedAt < this.cacheIdleMs;
  }

  /**
   * The viewer of a cached verified password, sliding its lifetime; reads the user again when
   * `cacheTtlMs` has passed since it was last checked. Undefined when it is gone or void.
   */
  private async use(passwordKey: string): Promise<Viewer | undefined> {
    const entry = this.verified.get(passwordKey);
    if (!entry) return undefined;
    if (!this.live(entry)) {
      this.verified.delete(passwordKey);
      return undefined;
    }
    const now = this.now();
    entry.lastUsedAt = now;
    this.verified.delete(passwordKey);
    this.verified.set(passwordKey, entry);
    if (now - entry.verifiedAt < this.cacheTtlMs) return entry.viewer;
    entry.refreshing ??= this.refresh(passwordKey, entry).finally(() => (entry.refreshing = undefined));
    return (await entry.refreshing)?.viewer;
  }

  /** Reads the user again: same hash → fresh roles and a new `verifiedAt`; else the entry is void. */
  private async refresh(passwordKey: string, entry: Verified): Promise<Verified | undefined> {
    const generation = this.generation;
    const user = await this.users.findByUsername(entry.viewer.username);
    if (!user || user.id !== entry.viewer.id || user.passwordHash !== entry.passwordHash || user.active === false) {
      if (this.verified.get(passwordKey) === entry) this.verified.delete(passwordKey);
      return undefined;
    }
    entry.viewer = toViewer(user);
    if (generation === this.generation) entry.verifiedAt = this.now();
    return entry;
  }

  /**
   * A credential that does not decode (malformed, or not encrypted under our key) guesses at no
   * password, but it is still a failed login: it counts against the client's address (never a
   * username: the name in it cannot be trusted), and a locked address gets 429 for it too.
   */
  private async refuseUndecodable(clientAddress: string): Promise<Error> {
    try {
      await this.throttle.recordAddressFailure(clientAddress);
    } catch (error) {
      // Locked: 429. A store that cannot be reached changes nothing: this credential is wrong
      // whatever the database says, and guesses at no password.
      if (error instanceof DomainError && error.code === ErrorCode.TOO_MANY_REQUESTS) return error;
    }
    return unauthenticated();
  }

  private remember(passwordKey: string, verified: { viewer: Viewer; passwordHash: string }, clientAddress: string): void {
    if (this.cacheTtlMs <= 0 || this.cacheMaxEntries <= 0) return;
    const now = this.now();
    const previous = this.verified.get(passwordKey);
    this.verified.delete(passwordKey);
    this.verified.set(passwordKey, {
      ...verified,
      verifiedAt: now,
      lastUsedAt: now,
      addresses: previous?.addresses ?? new Set(),
    });
    this.rememberAddress(passwordKey, clientAddress);
    this.evict(this.verified);
  }

  private rememberAddress(passwordKey: string, clientAddress: string): void {
    const addresses = this.verified.get(passwordKey)?.addresses;
    if (!addresses) return;
    const key = addressKey(clientAddress);
    addresses.delete(key);
    addresses.add(key);
    if (addresses.size > MAX_ADDRESSES_PER_ENTRY) addresses.delete(addresses.values().next().value as string);
  }

  private evict(map: Map<string, unknown>): void {
    while (map.size > this.cacheMaxEntries) map.delete(map.keys().next().value as string);
  }
}
