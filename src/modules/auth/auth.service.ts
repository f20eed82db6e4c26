import { createHash } from 'node:crypto';
import { unauthenticated } from '../../shared/errors';
import { Role, normalizeRoles } from '../user/role';
import type { Viewer } from '../user/viewer';
import { decodeCredential, normalizeCredentialHex } from './credential';
import { LoginThrottle } from './login-throttle';
import { DUMMY_PASSWORD_HASH, verifyPassword } from './password';

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
}

/** Options of {@link AuthService}. */
export interface AuthServiceOptions {
  /** The 32-byte AES-256-GCM key shared with clients (`AppConfig.credentialKey`). */
  key: Buffer;
  users: UserLookup;
  /** Defaults to a LoginThrottle with the SPEC limits and the same clock. */
  throttle?: LoginThrottle;
  /** How long a verified credential is trusted without checking again. Default 60 s; 0 disables. */
  cacheTtlMs?: number;
  /** Most credentials remembered; least recently used ones go first. Default 10,000. */
  cacheMaxEntries?: number;
  /** Clock, for tests. */
  now?: () => number;
}

interface CacheEntry {
  readonly viewer: Viewer;
  readonly expiresAt: number;
}

const DEFAULT_CACHE_TTL_MS = 60_000;
const DEFAULT_CACHE_MAX_ENTRIES = 10_000;

/**
 * Turns a credential into the {@link Viewer} a request acts as (SPEC "Credential").
 *
 * Clients send the same credential with every request and a password check costs tens of
 * milliseconds of scrypt, so a verified credential is remembered for a short while: a hit costs a
 * SHA-256 and a Map lookup, with no decryption, no database query and no scrypt. The cache is
 * keyed by the digest of the normalized credential, never the credential itself, and only
 * successes are cached. Concurrent first requests with one credential share one verification.
 *
 * The cache is per process: `invalidateUser` clears this process only. Changes to a user reach
 * every process's `invalidateUser` over the event bus (realtime/user-changes.ts); `cacheTtlMs`
 * bounds how long a lost notification could leave an entry behind.
 */
export class AuthService {
  private readonly key: Buffer;
  private readonly users: UserLookup;
  private readonly throttle: LoginThrottle;
  private readonly now: () => number;
  private readonly cacheTtlMs: number;
  private readonly cacheMaxEntries: number;
  /** Map order is least recently used first. */
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<Viewer>>();
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
    this.cacheTtlMs = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
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
   */
  async authenticate(credential: unknown, clientAddress: string): Promise<Viewer> {
    // No credential at all is not a login attempt: refused, but not counted against anyone.
    if (credential === undefined || credential === null || credential === '') throw unauthenticated();
    let normalized: string;
    try {
      normalized = normalizeCredentialHex(credential);
    } catch {
      throw this.refuseUndecodable(clientAddress);
    }
    const cacheKey = createHash('sha256').update(normalized).digest('base64');

    // A hit skips the throttle on purpose: this exact credential proved the right password moments
    // ago, so a lock caused by someone else guessing at this username must not lock its owner out.
    const cached = this.cache.get(cacheKey);
    if (cached) {
      this.cache.delete(cacheKey);
      if (cached.expiresAt > this.now()) {
        this.cache.set(cacheKey, cached);
        return cached.viewer;
      }
    }

    const pending = this.inFlight.get(cacheKey);
    if (pending) return pending;
    const verification = this.verify(normalized, cacheKey, clientAddress).finally(() => {
      if (this.inFlight.get(cacheKey) === verification) this.inFlight.delete(cacheKey);
    });
    this.inFlight.set(cacheKey, verification);
    return verification;
  }

  /**
   * Forgets every cached verification of this user. Call after changing their password, roles or
   * admin flag, so the next request is checked against the new state.
   */
  invalidateUser(userId: number): void {
    this.generation += 1;
    for (const [cacheKey, entry] of this.cache) {
      if (entry.viewer.id === userId) this.cache.delete(cacheKey);
    }
    // Verifications already running may have read the old state: later requests must not join them.
    this.inFlight.clear();
  }

  private async verify(normalized: string, cacheKey: string, clientAddress: string): Promise<Viewer> {
    const generation = this.generation;
    let decoded: { username: string; password: string };
    try {
      decoded = decodeCredential(normalized, this.key);
    } catch {
      throw this.refuseUndecodable(clientAddress);
    }
    const viewer = await this.verifyLogin(decoded.username, decoded.password, clientAddress);
    if (generation === this.generation) this.remember(cacheKey, viewer);
    return viewer;
  }

  /**
   * The one throttled password check: a username and a password, whether they came in a credential
   * or in `login`. Throttling, the timing-safe answer for unknown usernames and the refusal of
   * deactivated accounts (answered exactly like a wrong password) all live here.
   *
   * @throws DomainError UNAUTHENTICATED for an unknown username, a wrong password or a deactivated
   *   account, all with one message.
   * @throws DomainError TOO_MANY_REQUESTS while the username or the address is locked.
   */
  async verifyLogin(username: string, password: string, clientAddress: string): Promise<Viewer> {
    this.throttle.check(username, clientAddress);

    const user = await this.users.findByUsername(username);
    // An unknown username still pays for one scrypt, so timing does not reveal which names exist.
    const passwordMatches = await verifyPassword(password, user?.passwordHash ?? DUMMY_PASSWORD_HASH);
    if (!user || !passwordMatches || user.active === false) {
      this.throttle.recordFailure(username, clientAddress);
      throw unauthenticated();
    }
    this.throttle.recordSuccess(username, clientAddress);

    return Object.freeze({
      id: user.id,
      username: user.username,
      roles: Object.freeze(normalizeRoles(user.roles)),
      isAdmin: user.isAdmin,
    });
  }

  /**
   * A credential that does not decode (malformed, or not encrypted under our key) guesses at no
   * password, but it is still a failed login: it counts against the client's address (never a
   * username: the name in it cannot be trusted), and a locked address gets 429 for it too.
   */
  private refuseUndecodable(clientAddress: string): Error {
    try {
      this.throttle.checkAddress(clientAddress);
    } catch (locked) {
      return locked as Error;
    }
    this.throttle.recordAddressFailure(clientAddress);
    return unauthenticated();
  }

  private remember(cacheKey: string, viewer: Viewer): void {
    if (this.cacheTtlMs <= 0 || this.cacheMaxEntries <= 0) return;
    this.cache.delete(cacheKey);
    this.cache.set(cacheKey, { viewer, expiresAt: this.now() + this.cacheTtlMs });
    while (this.cache.size > this.cacheMaxEntries) {
      this.cache.delete(this.cache.keys().next().value as string);
    }
  }
}
