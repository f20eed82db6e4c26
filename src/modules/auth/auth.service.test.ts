import { DomainError, ErrorCode, INVALID_CREDENTIAL_MESSAGE } from '../../shared/errors';
import { Role } from '../user/role';
import { AuthService, type StoredUser, type UserLookup } from './auth.service';
import { encodeCredential } from './credential';
import { LoginThrottle } from './login-throttle';
import * as passwords from './password';

/** Cheap scrypt parameters: these tests are about the logic, not the cost. */
const CHEAP = { N: 1024, r: 8, p: 1 };
const cheapHasher = () => new passwords.PasswordHasher({ params: CHEAP });

const key = Buffer.alloc(32, 0x2a);
const ADDRESS = '198.51.100.20';

let users: Map<string, StoredUser>;
let aliceHash: string;

beforeAll(async () => {
  aliceHash = await passwords.hashPassword('alice-pw', CHEAP);
});

beforeEach(() => {
  users = new Map([['alice', { id: 1, username: 'alice', passwordHash: aliceHash, roles: [Role.SCHEDULER, Role.CUSTOMER], isAdmin: false }]]);
});

afterEach(() => {
  jest.restoreAllMocks();
});

/** A user store that counts lookups and can hold them until released. */
function lookup(): UserLookup & { calls: string[]; hold: () => () => void } {
  let gate: Promise<void> | undefined;
  const store = {
    calls: [] as string[],
    hold() {
      let release!: () => void;
      gate = new Promise<void>((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
    async findByUsername(username: string) {
      store.calls.push(username);
      if (gate) await gate;
      const user = users.get(username);
      return user ? { ...user, roles: [...user.roles] } : null;
    },
  };
  return store;
}

function clock() {
  let time = 1_700_000_000_000;
  return { now: () => time, advance: (ms: number) => void (time += ms) };
}

async function rejection(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return error as DomainError;
  }
  throw new Error('expected a rejection');
}

describe('AuthService.authenticate', () => {
  it('returns the viewer for a valid credential, roles in canonical order', async () => {
    const service = new AuthService({ key, hasher: cheapHasher(), users: lookup() });
    const viewer = await service.authenticate(encodeCredential('alice', 'alice-pw', key), ADDRESS);
    expect(viewer).toEqual({ id: 1, username: 'alice', roles: [Role.CUSTOMER, Role.SCHEDULER], isAdmin: false });
    expect(Object.isFrozen(viewer)).toBe(true);
  });

  it('accepts 12-byte nonces, upper-case and multi-line hex', async () => {
    const service = new AuthService({ key, hasher: cheapHasher(), users: lookup(), cacheTtlMs: 0 });
    const hex = encodeCredential('alice', 'alice-pw', key, { nonceLength: 12 });
    const wrapped = (hex.toUpperCase().match(/.{1,89}/g) ?? []).join('\n    ');
    await expect(service.authenticate(wrapped, ADDRESS)).resolves.toMatchObject({ id: 1 });
  });

  it('answers one 401 message for a wrong password, an unknown user and a malformed or foreign credential', async () => {
    const service = new AuthService({ key, hasher: cheapHasher(), users: lookup() });
    const errors = await Promise.all([
      rejection(service.authenticate(encodeCredential('alice', 'wrong', key), ADDRESS)),
      rejection(service.authenticate(encodeCredential('nobody', 'alice-pw', key), ADDRESS)),
      rejection(service.authenticate(encodeCredential('alice', 'alice-pw', Buffer.alloc(32, 1)), ADDRESS)),
      rejection(service.authenticate('not hex', ADDRESS)),
      rejection(service.authenticate(undefined, ADDRESS)),
      rejection(service.authenticate({ username: 'alice' }, ADDRESS)),
    ]);
    for (const error of errors) {
      expect(error).toMatchObject({ code: ErrorCode.UNAUTHENTICATED, message: INVALID_CREDENTIAL_MESSAGE, details: {} });
    }
  });

  it('still runs one scrypt for an unknown username (no enumeration by timing)', async () => {
    const service = new AuthService({ key, hasher: cheapHasher(), users: lookup() });
    const verify = jest.spyOn(service.hasher, 'verify');
    await rejection(service.authenticate(encodeCredential('nobody', 'whatever', key), ADDRESS));
    expect(verify).toHaveBeenCalledTimes(1);
    expect(verify).toHaveBeenCalledWith('whatever', undefined);
    expect(service.hasher.computations).toBe(1);
  });

  it('never accepts an unknown username, even if the password check were to match', async () => {
    const service = new AuthService({ key, hasher: cheapHasher(), users: lookup() });
    jest.spyOn(service.hasher, 'verify').mockResolvedValue(true);
    await rejection(service.authenticate(encodeCredential('nobody', 'whatever', key), ADDRESS));
  });

  it('lets a lookup failure through as itself, not as a 401, and does not cache it', async () => {
    const store = lookup();
    const service = new AuthService({ key, hasher: cheapHasher(), users: store });
    const outage = new Error('database unreachable');
    jest.spyOn(store, 'findByUsername').mockRejectedValueOnce(outage);
    const credential = encodeCredential('alice', 'alice-pw', key);
    await expect(service.authenticate(credential, ADDRESS)).rejects.toBe(outage);
    await expect(service.authenticate(credential, ADDRESS)).resolves.toMatchObject({ id: 1 });
  });

  it('gives the throttle its count back when the password could not be checked (an outage is no failed login)', async () => {
    const store = lookup();
    const service = new AuthService({ key, hasher: cheapHasher(), users: store });
    jest.spyOn(store, 'findByUsername').mockRejectedValue(new Error('database unreachable'));
    for (let attempt = 0; attempt < 30; attempt += 1) {
      await expect(service.authenticate(encodeCredential('alice', 'alice-pw', key), ADDRESS)).rejects.toThrow('database unreachable');
    }
    jest.restoreAllMocks();
    await expect(service.authenticate(encodeCredential('alice', 'alice-pw', key), ADDRESS)).resolves.toMatchObject({ id: 1 });
  });

  it('offers the same throttled, cached check for a username and password (verifyPassword)', async () => {
    const store = lookup();
    const service = new AuthService({ key, hasher: cheapHasher(), users: store });
    await expect(service.verifyPassword('alice', 'alice-pw', ADDRESS)).resolves.toMatchObject({ id: 1 });
    // The credential path shares its cache: no second lookup, no scrypt.
    await expect(service.authenticate(encodeCredential('alice', 'alice-pw', key), ADDRESS)).resolves.toMatchObject({ id: 1 });
    expect(store.calls).toEqual(['alice']);
    expect(service.hasher.computations).toBe(1);
    for (const [username, password] of [
      ['alice', 'nope'],
      ['', 'x'],
      [undefined, 'x'],
      ['alice', 42],
    ] as const) {
      await expect(service.verifyPassword(username, password, ADDRESS)).rejects.toMatchObject({ code: ErrorCode.UNAUTHENTICATED });
    }
  });

  it('rehashes a weaker stored hash on a successful sign-in, only if it is unchanged', async () => {
    const replaced: Array<[number, string, string]> = [];
    const store = Object.assign(lookup(), {
      replacePasswordHash: async (userId: number, expected: string, replacement: string) => {
        replaced.push([userId, expected, replacement]);
        return true;
      },
    });
    const service = new AuthService({ key, hasher: new passwords.PasswordHasher({ params: { N: 2048, r: 8, p: 1 } }), users: store });
    await rejection(service.authenticate(encodeCredential('alice', 'wrong', key), ADDRESS));
    expect(replaced).toHaveLength(0);
    await service.authenticate(encodeCredential('alice', 'alice-pw', key), ADDRESS);
    expect(replaced).toHaveLength(1);
    const [userId, expected, replacement] = replaced[0] ?? [];
    expect([userId, expected]).toEqual([1, aliceHash]);
    expect(replacement).toMatch(/^scrypt\$2048\$8\$1\$/);
    await expect(passwords.verifyPassword('alice-pw', replacement ?? '')).resolves.toBe(true);
  });

  it('refuses a key that is not 32 bytes at construction', () => {
    expect(() => new AuthService({ key: Buffer.alloc(16), users: lookup() })).toThrow(RangeError);
  });
});

describe('AuthService cache', () => {
  it('answers a repeated credential without decrypting, looking up or hashing again', async () => {
    const store = lookup();
    const service = new AuthService({ key, hasher: cheapHasher(), users: store });
    const credential = encodeCredential('alice', 'alice-pw', key);
    const first = await service.authenticate(credential, ADDRESS);
    const verify = jest.spyOn(passwords, 'verifyPassword');
    for (let request = 0; request < 5; request += 1) {
      expect(await service.authenticate(credential, ADDRESS)).toBe(first);
    }
    expect(store.calls).toEqual(['alice']);
    expect(verify).not.toHaveBeenCalled();
  });

  it('treats the multi-line and upper-case spellings of one credential as the same entry', async () => {
    const store = lookup();
    const service = new AuthService({ key, hasher: cheapHasher(), users: store });
    const credential = encodeCredential('alice', 'alice-pw', key);
    await service.authenticate(credential, ADDRESS);
    await service.authenticate(`  ${credential.slice(0, 50).toUpperCase()}\n  ${credential.slice(50)}\n`, ADDRESS);
    expect(store.calls).toHaveLength(1);
  });

  it('does not keep the credential itself as a key', async () => {
    const service = new AuthService({ key, hasher: cheapHasher(), users: lookup() });
    const credential = encodeCredential('alice', 'alice-pw', key);
    await service.authenticate(credential, ADDRESS);
    const internals = service as unknown as { credentials: Map<string, string>; verified: Map<string, unknown> };
    const keys = [...internals.credentials.keys(), ...internals.verified.keys()];
    expect(keys).toHaveLength(2);
    for (const cacheKey of keys) {
      expect(cacheKey).not.toContain(credential.slice(0, 32));
      expect(cacheKey).not.toContain('alice');
      expect(cacheKey.length).toBeLessThan(64);
    }
    // The password's digest is keyed by a secret of this process: another service computes another.
    const other = new AuthService({ key, hasher: cheapHasher(), users: lookup() });
    await other.authenticate(credential, ADDRESS);
    expect([...(other as unknown as { verified: Map<string, unknown> }).verified.keys()]).not.toEqual([...internals.verified.keys()]);
  });

  it('answers a new credential (fresh nonce) for a verified password without looking up or hashing again', async () => {
    const store = lookup();
    const service = new AuthService({ key, hasher: cheapHasher(), users: store });
    await service.authenticate(encodeCredential('alice', 'alice-pw', key), ADDRESS);
    for (let request = 0; request < 5; request += 1) {
      await expect(service.authenticate(encodeCredential('alice', 'alice-pw', key), ADDRESS)).resolves.toMatchObject({ id: 1 });
    }
    expect(store.calls).toHaveLength(1);
    expect(service.hasher.computations).toBe(1);
  });

  it('checks a fresh credential from a new address through the throttle, then from the cache', async () => {
    const store = lookup();
    const service = new AuthService({ key, hasher: cheapHasher(), users: store });
    const admit = jest.spyOn(service.throttle, 'admit');
    await service.authenticate(encodeCredential('alice', 'alice-pw', key), ADDRESS);
    await service.authenticate(encodeCredential('alice', 'alice-pw', key), '203.0.113.50');
    await service.authenticate(encodeCredential('alice', 'alice-pw', key), '203.0.113.50');
    expect(admit).toHaveBeenCalledTimes(2);
    expect(store.calls).toHaveLength(1);
    expect(service.hasher.computations).toBe(1);
  });

  it('checks again once the TTL has passed', async () => {
    const time = clock();
    const store = lookup();
    const service = new AuthService({ key, hasher: cheapHasher(), users: store, now: time.now });
    const credential = encodeCredential('alice', 'alice-pw', key);
    await service.authenticate(credential, ADDRESS);
    time.advance(59_999);
    await service.authenticate(credential, ADDRESS);
    expect(store.calls).toHaveLength(1);
    time.advance(1);
    await service.authenticate(credential, ADDRESS);
    expect(store.calls).toHaveLength(2);
  });

  it('reads the user again every cacheTtlMs while in use (no scrypt), so a changed password stops working within it', async () => {
    const time = clock();
    const store = lookup();
    const service = new AuthService({ key, hasher: cheapHasher(), users: store, now: time.now, cacheTtlMs: 1000 });
    const credential = encodeCredential('alice', 'alice-pw', key);
    await service.authenticate(credential, ADDRESS);
    for (let step = 0; step < 4; step += 1) {
      time.advance(300);
      await service.authenticate(credential, ADDRESS);
    }
    expect(store.calls).toHaveLength(2);
    expect(service.hasher.computations).toBe(1);

    users.set('alice', { ...(users.get('alice') as StoredUser), passwordHash: await passwords.hashPassword('new-pw', CHEAP) });
    time.advance(1000);
    await expect(service.authenticate(credential, ADDRESS)).rejects.toMatchObject({ code: ErrorCode.UNAUTHENTICATED });
  });

  it('keeps an entry alive while it is in use (sliding), and forgets it cacheIdleMs after its last use', async () => {
    const time = clock();
    const store = lookup();
    const service = new AuthService({ key, hasher: cheapHasher(), users: store, now: time.now, cacheTtlMs: 1000, cacheIdleMs: 10_000 });
    const credential = encodeCredential('alice', 'alice-pw', key);
    await service.authenticate(credential, ADDRESS);
    for (let step = 0; step < 30; step += 1) {
      time.advance(5_000);
      await service.authenticate(credential, ADDRESS);
    }
    expect(service.hasher.computations).toBe(1);
    time.advance(10_000);
    await service.authenticate(credential, ADDRESS);
    expect(service.hasher.computations).toBe(2);
  });

  it('checks again after invalidateUser, and sees changed roles and password', async () => {
    const store = lookup();
    const service = new AuthService({ key, hasher: cheapHasher(), users: store });
    const credential = encodeCredential('alice', 'alice-pw', key);
    await service.authenticate(credential, ADDRESS);

    users.set('alice', { ...(users.get('alice') as StoredUser), roles: [Role.STAFF], isAdmin: true });
    expect(await service.authenticate(credential, ADDRESS)).toMatchObject({ roles: [Role.CUSTOMER, Role.SCHEDULER] });
    service.invalidateUser(1);
    expect(await service.authenticate(credential, ADDRESS)).toMatchObject({ roles: [Role.STAFF], isAdmin: true });
    expect(store.calls).toHaveLength(2);

    users.set('alice', { ...(users.get('alice') as StoredUser), passwordHash: await passwords.hashPassword('new-pw', CHEAP) });
    service.invalidateUser(1);
    await expect(service.authenticate(credential, ADDRESS)).rejects.toMatchObject({ code: ErrorCode.UNAUTHENTICATED });
  });

  it('invalidateUser leaves other users cached', async () => {
    users.set('bob', { id: 2, username: 'bob', passwordHash: aliceHash, roles: [Role.STAFF], isAdmin: false });
    const store = lookup();
    const service = new AuthService({ key, hasher: cheapHasher(), users: store });
    const alice = encodeCredential('alice', 'alice-pw', key);
    const bob = encodeCredential('bob', 'alice-pw', key);
    await service.authenticate(alice, ADDRESS);
    await service.authenticate(bob, ADDRESS);
    service.invalidateUser(1);
    await service.authenticate(alice, ADDRESS);
    await service.authenticate(bob, ADDRESS);
    expect(store.calls).toEqual(['alice', 'bob', 'alice']);
  });

  it('does not cache a verification that was running when the user was invalidated', async () => {
    const store = lookup();
    const service = new AuthService({ key, hasher: cheapHasher(), users: store });
    const credential = encodeCredential('alice', 'alice-pw', key);
    const release = store.hold();
    const running = service.authenticate(credential, ADDRESS);
    service.invalidateUser(1);
    release();
    await running;
    await service.authenticate(credential, ADDRESS);
    expect(store.calls).toHaveLength(2);
  });

  it('does not cache failures', async () => {
    const store = lookup();
    const service = new AuthService({ key, hasher: cheapHasher(), users: store });
    const credential = encodeCredential('alice', 'wrong', key);
    await rejection(service.authenticate(credential, ADDRESS));
    await rejection(service.authenticate(credential, ADDRESS));
    expect(store.calls).toHaveLength(2);
  });

  it('shares one verification among concurrent first requests with the same credential', async () => {
    const store = lookup();
    const service = new AuthService({ key, hasher: cheapHasher(), users: store });
    const credential = encodeCredential('alice', 'alice-pw', key);
    const release = store.hold();
    const requests = Array.from({ length: 8 }, (_, index) => service.authenticate(index % 2 ? credential.toUpperCase() : credential, ADDRESS));
    release();
    const viewers = await Promise.all(requests);
    expect(store.calls).toHaveLength(1);
    expect(new Set(viewers).size).toBe(1);
  });

  it('shares a failure too, counting it once', async () => {
    const store = lookup();
    const throttle = new LoginThrottle();
    const admit = jest.spyOn(throttle, 'admit');
    const service = new AuthService({ key, hasher: cheapHasher(), users: store, throttle });
    const credential = encodeCredential('alice', 'wrong', key);
    const release = store.hold();
    const requests = Array.from({ length: 5 }, () => rejection(service.authenticate(credential, ADDRESS)));
    await new Promise((resolve) => setImmediate(resolve));
    release();
    for (const error of await Promise.all(requests)) expect(error.code).toBe(ErrorCode.UNAUTHENTICATED);
    expect(store.calls).toHaveLength(1);
    expect(admit).toHaveBeenCalledTimes(1);
  });

  it('is bounded: the least recently used credential and password go first', async () => {
    users.set('bob', { id: 2, username: 'bob', passwordHash: aliceHash, roles: [Role.STAFF], isAdmin: false });
    users.set('carol', { id: 3, username: 'carol', passwordHash: aliceHash, roles: [Role.STAFF], isAdmin: false });
    const store = lookup();
    const service = new AuthService({ key, hasher: cheapHasher(), users: store, cacheMaxEntries: 2 });
    const [a, b, c] = ['alice', 'bob', 'carol'].map((name) => encodeCredential(name, 'alice-pw', key)) as [string, string, string];
    await service.authenticate(a, ADDRESS);
    await service.authenticate(b, ADDRESS);
    await service.authenticate(a, ADDRESS); // a is now the most recently used
    await service.authenticate(c, ADDRESS); // evicts b
    expect(store.calls).toEqual(['alice', 'bob', 'carol']);
    await service.authenticate(a, ADDRESS);
    expect(store.calls).toHaveLength(3);
    await service.authenticate(b, ADDRESS);
    expect(store.calls).toHaveLength(4);
    const internals = service as unknown as { credentials: Map<string, string>; verified: Map<string, unknown> };
    expect(internals.credentials.size).toBeLessThanOrEqual(2);
    expect(internals.verified.size).toBeLessThanOrEqual(2);
  });

  it('can be turned off with cacheTtlMs: 0', async () => {
    const store = lookup();
    const service = new AuthService({ key, hasher: cheapHasher(), users: store, cacheTtlMs: 0 });
    const credential = encodeCredential('alice', 'alice-pw', key);
    await service.authenticate(credential, ADDRESS);
    await service.authenticate(credential, ADDRESS);
    expect(store.calls).toHaveLength(2);
  });
});

describe('AuthService throttling', () => {
  async function failTenTimes(service: AuthService, username: string, address = ADDRESS): Promise<void> {
    for (let attempt = 1; attempt <= 10; attempt += 1) {
      const error = await rejection(service.authenticate(encodeCredential(username, `guess-${attempt}`, key), address));
      expect(error.code).toBe(ErrorCode.UNAUTHENTICATED);
    }
  }

  it('answers 401 to the first 10 wrong passwords and 429 with Retry-After to the 11th, even if right', async () => {
    const time = clock();
    const store = lookup();
    const service = new AuthService({ key, hasher: cheapHasher(), users: store, now: time.now });
    await failTenTimes(service, 'alice');
    const callsBefore = store.calls.length;
    const error = await rejection(service.authenticate(encodeCredential('alice', 'alice-pw', key), ADDRESS));
    expect(error).toMatchObject({ code: ErrorCode.TOO_MANY_REQUESTS, details: { retryAfterSeconds: 30 } });
    // Refused before any database lookup or scrypt.
    expect(store.calls).toHaveLength(callsBefore);

    time.advance(30_000);
    await expect(service.authenticate(encodeCredential('alice', 'alice-pw', key), ADDRESS)).resolves.toMatchObject({ id: 1 });
  });

  it('treats unknown usernames like known ones (no enumeration through 429s)', async () => {
    const service = new AuthService({ key, hasher: cheapHasher(), users: lookup() });
    await failTenTimes(service, 'nobody');
    const error = await rejection(service.authenticate(encodeCredential('nobody', 'x', key), ADDRESS));
    expect(error.code).toBe(ErrorCode.TOO_MANY_REQUESTS);
  });

  it('resets the streak on a successful login', async () => {
    const service = new AuthService({ key, hasher: cheapHasher(), users: lookup(), cacheTtlMs: 0 });
    for (let attempt = 0; attempt < 9; attempt += 1) {
      await rejection(service.authenticate(encodeCredential('alice', 'wrong', key), ADDRESS));
    }
    await service.authenticate(encodeCredential('alice', 'alice-pw', key), ADDRESS);
    await failTenTimes(service, 'alice');
    const error = await rejection(service.authenticate(encodeCredential('alice', 'wrong', key), ADDRESS));
    expect(error.code).toBe(ErrorCode.TOO_MANY_REQUESTS);
  });

  it("does not lock other users out because of one client's failures", async () => {
    users.set('bob', { id: 2, username: 'bob', passwordHash: aliceHash, roles: [Role.STAFF], isAdmin: false });
    const service = new AuthService({ key, hasher: cheapHasher(), users: lookup() });
    await failTenTimes(service, 'alice', '203.0.113.9');
    await expect(service.authenticate(encodeCredential('bob', 'alice-pw', key), '203.0.113.9')).resolves.toMatchObject({ id: 2 });
    await expect(service.authenticate(encodeCredential('bob', 'alice-pw', key), ADDRESS)).resolves.toMatchObject({ id: 2 });
  });

  it('keeps serving an already verified credential while others guess at the same username', async () => {
    const service = new AuthService({ key, hasher: cheapHasher(), users: lookup() });
    const credential = encodeCredential('alice', 'alice-pw', key);
    await service.authenticate(credential, ADDRESS);
    await failTenTimes(service, 'alice', '203.0.113.9');
    await expect(service.authenticate(credential, ADDRESS)).resolves.toMatchObject({ id: 1 });
  });

  it('counts malformed credentials against the address only, never a username', async () => {
    const throttle = new LoginThrottle();
    const admit = jest.spyOn(throttle, 'admit');
    const recordAddressFailure = jest.spyOn(throttle, 'recordAddressFailure');
    const service = new AuthService({ key, hasher: cheapHasher(), users: lookup(), throttle });
    await rejection(service.authenticate('zz', ADDRESS));
    await rejection(service.authenticate(encodeCredential('alice', 'alice-pw', Buffer.alloc(32, 9)), ADDRESS));
    expect(admit).not.toHaveBeenCalled();
    expect(recordAddressFailure).toHaveBeenCalledTimes(2);
  });

  it("keeps serving the owner's fresh credentials from the owner's address while a stranger is locked", async () => {
    const store = lookup();
    const service = new AuthService({ key, hasher: cheapHasher(), users: store });
    await service.authenticate(encodeCredential('alice', 'alice-pw', key), ADDRESS);
    await failTenTimes(service, 'alice', '203.0.113.9');
    // The stranger is refused even with the right password: a locked guesser never reaches the cache.
    expect((await rejection(service.authenticate(encodeCredential('alice', 'alice-pw', key), '203.0.113.9'))).code).toBe(ErrorCode.TOO_MANY_REQUESTS);
    await expect(service.authenticate(encodeCredential('alice', 'alice-pw', key), ADDRESS)).resolves.toMatchObject({ id: 1 });
    // A third address, never signed in from, waits out the username's lock.
    expect((await rejection(service.authenticate(encodeCredential('alice', 'alice-pw', key), '192.0.2.1'))).code).toBe(ErrorCode.TOO_MANY_REQUESTS);
    // The owner's own address, once its verified password is forgotten, still passes the throttle
    // (trusted pair); that success ends the username's streak, not the stranger's own lock.
    service.invalidateUser(1);
    await expect(service.authenticate(encodeCredential('alice', 'alice-pw', key), ADDRESS)).resolves.toMatchObject({ id: 1 });
    await expect(service.authenticate(encodeCredential('alice', 'alice-pw', key), '192.0.2.1')).resolves.toMatchObject({ id: 1 });
    expect((await rejection(service.authenticate(encodeCredential('alice', 'alice-pw', key), '203.0.113.9'))).code).toBe(ErrorCode.TOO_MANY_REQUESTS);
  });

  it('refuses a guess from a locked pair before looking at the cache (no oracle)', async () => {
    const service = new AuthService({ key, hasher: cheapHasher(), users: lookup() });
    await service.authenticate(encodeCredential('alice', 'alice-pw', key), ADDRESS);
    await failTenTimes(service, 'alice', ADDRESS);
    const error = await rejection(service.authenticate(encodeCredential('alice', 'alice-pw', key), ADDRESS));
    expect(error.code).toBe(ErrorCode.TOO_MANY_REQUESTS);
  });
});
