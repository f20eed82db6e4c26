import { DomainError, ErrorCode, INVALID_CREDENTIAL_MESSAGE } from '../../shared/errors';
import { Role } from '../user/role';
import { AuthService, type StoredUser, type UserLookup } from './auth.service';
import { encodeCredential } from './credential';
import { LoginThrottle } from './login-throttle';
import * as passwords from './password';

const key = Buffer.alloc(32, 0x2a);
const ADDRESS = '198.51.100.20';

let users: Map<string, StoredUser>;
let aliceHash: string;

beforeAll(async () => {
  aliceHash = await passwords.hashPassword('alice-pw');
});

beforeEach(() => {
  users = new Map([
    ['alice', { id: 1, username: 'alice', passwordHash: aliceHash, roles: [Role.SCHEDULER, Role.CUSTOMER], isAdmin: false }],
  ]);
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
    const service = new AuthService({ key, users: lookup() });
    const viewer = await service.authenticate(encodeCredential('alice', 'alice-pw', key), ADDRESS);
    expect(viewer).toEqual({ id: 1, username: 'alice', roles: [Role.CUSTOMER, Role.SCHEDULER], isAdmin: false });
    expect(Object.isFrozen(viewer)).toBe(true);
  });

  it('accepts 12-byte nonces, upper-case and multi-line hex', async () => {
    const service = new AuthService({ key, users: lookup(), cacheTtlMs: 0 });
    const hex = encodeCredential('alice', 'alice-pw', key, { nonceLength: 12 });
    const wrapped = (hex.toUpperCase().match(/.{1,89}/g) ?? []).join('\n    ');
    await expect(service.authenticate(wrapped, ADDRESS)).resolves.toMatchObject({ id: 1 });
  });

  it('answers one 401 message for a wrong password, an unknown user and a malformed or foreign credential', async () => {
    const service = new AuthService({ key, users: lookup() });
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
    const verify = jest.spyOn(passwords, 'verifyPassword');
    const service = new AuthService({ key, users: lookup() });
    await rejection(service.authenticate(encodeCredential('nobody', 'whatever', key), ADDRESS));
    expect(verify).toHaveBeenCalledTimes(1);
    expect(verify).toHaveBeenCalledWith('whatever', passwords.DUMMY_PASSWORD_HASH);
  });

  it('never accepts an unknown username, even if the dummy hash were to match', async () => {
    jest.spyOn(passwords, 'verifyPassword').mockResolvedValue(true);
    const service = new AuthService({ key, users: lookup() });
    await rejection(service.authenticate(encodeCredential('nobody', 'whatever', key), ADDRESS));
  });

  it('lets a lookup failure through as itself, not as a 401, and does not cache it', async () => {
    const store = lookup();
    const service = new AuthService({ key, users: store });
    const outage = new Error('database unreachable');
    jest.spyOn(store, 'findByUsername').mockRejectedValueOnce(outage);
    const credential = encodeCredential('alice', 'alice-pw', key);
    await expect(service.authenticate(credential, ADDRESS)).rejects.toBe(outage);
    await expect(service.authenticate(credential, ADDRESS)).resolves.toMatchObject({ id: 1 });
  });

  it('refuses a key that is not 32 bytes at construction', () => {
    expect(() => new AuthService({ key: Buffer.alloc(16), users: lookup() })).toThrow(RangeError);
  });
});

describe('AuthService cache', () => {
  it('answers a repeated credential without decrypting, looking up or hashing again', async () => {
    const store = lookup();
    const service = new AuthService({ key, users: store });
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
    const service = new AuthService({ key, users: store });
    const credential = encodeCredential('alice', 'alice-pw', key);
    await service.authenticate(credential, ADDRESS);
    await service.authenticate(`  ${credential.slice(0, 50).toUpperCase()}\n  ${credential.slice(50)}\n`, ADDRESS);
    expect(store.calls).toHaveLength(1);
  });

  it('does not keep the credential itself as a key', async () => {
    const service = new AuthService({ key, users: lookup() });
    const credential = encodeCredential('alice', 'alice-pw', key);
    await service.authenticate(credential, ADDRESS);
    const keys = [...(service as unknown as { cache: Map<string, unknown> }).cache.keys()];
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toContain(credential.slice(0, 32));
    expect(keys[0]?.length).toBeLessThan(64);
  });

  it('verifies a new credential (fresh nonce) for the same user again', async () => {
    const store = lookup();
    const service = new AuthService({ key, users: store });
    await service.authenticate(encodeCredential('alice', 'alice-pw', key), ADDRESS);
    await service.authenticate(encodeCredential('alice', 'alice-pw', key), ADDRESS);
    expect(store.calls).toHaveLength(2);
  });

  it('checks again once the TTL has passed', async () => {
    const time = clock();
    const store = lookup();
    const service = new AuthService({ key, users: store, now: time.now });
    const credential = encodeCredential('alice', 'alice-pw', key);
    await service.authenticate(credential, ADDRESS);
    time.advance(59_999);
    await service.authenticate(credential, ADDRESS);
    expect(store.calls).toHaveLength(1);
    time.advance(1);
    await service.authenticate(credential, ADDRESS);
    expect(store.calls).toHaveLength(2);
  });

  it('does not slide the TTL on hits, so a changed password stops working within it', async () => {
    const time = clock();
    const store = lookup();
    const service = new AuthService({ key, users: store, now: time.now, cacheTtlMs: 1000 });
    const credential = encodeCredential('alice', 'alice-pw', key);
    await service.authenticate(credential, ADDRESS);
    for (let step = 0; step < 4; step += 1) {
      time.advance(300);
      await service.authenticate(credential, ADDRESS);
    }
    expect(store.calls).toHaveLength(2);
  });

  it('checks again after invalidateUser, and sees changed roles and password', async () => {
    const store = lookup();
    const service = new AuthService({ key, users: store });
    const credential = encodeCredential('alice', 'alice-pw', key);
    await service.authenticate(credential, ADDRESS);

    users.set('alice', { ...(users.get('alice') as StoredUser), roles: [Role.STAFF], isAdmin: true });
    expect(await service.authenticate(credential, ADDRESS)).toMatchObject({ roles: [Role.CUSTOMER, Role.SCHEDULER] });
    service.invalidateUser(1);
    expect(await service.authenticate(credential, ADDRESS)).toMatchObject({ roles: [Role.STAFF], isAdmin: true });
    expect(store.calls).toHaveLength(2);

    users.set('alice', { ...(users.get('alice') as StoredUser), passwordHash: await passwords.hashPassword('new-pw') });
    service.invalidateUser(1);
    await expect(service.authenticate(credential, ADDRESS)).rejects.toMatchObject({ code: ErrorCode.UNAUTHENTICATED });
  });

  it('invalidateUser leaves other users cached', async () => {
    users.set('bob', { id: 2, username: 'bob', passwordHash: aliceHash, roles: [Role.STAFF], isAdmin: false });
    const store = lookup();
    const service = new AuthService({ key, users: store });
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
    const service = new AuthService({ key, users: store });
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
    const service = new AuthService({ key, users: store });
    const credential = encodeCredential('alice', 'wrong', key);
    await rejection(service.authenticate(credential, ADDRESS));
    await rejection(service.authenticate(credential, ADDRESS));
    expect(store.calls).toHaveLength(2);
  });

  it('shares one verification among concurrent first requests with the same credential', async () => {
    const store = lookup();
    const service = new AuthService({ key, users: store });
    const credential = encodeCredential('alice', 'alice-pw', key);
    const release = store.hold();
    const requests = Array.from({ length: 8 }, (_, index) =>
      service.authenticate(index % 2 ? credential.toUpperCase() : credential, ADDRESS),
    );
    release();
    const viewers = await Promise.all(requests);
    expect(store.calls).toHaveLength(1);
    expect(new Set(viewers).size).toBe(1);
  });

  it('shares a failure too, counting it once', async () => {
    const store = lookup();
    const throttle = new LoginThrottle();
    const recordFailure = jest.spyOn(throttle, 'recordFailure');
    const service = new AuthService({ key, users: store, throttle });
    const credential = encodeCredential('alice', 'wrong', key);
    const release = store.hold();
    const requests = Array.from({ length: 5 }, () => rejection(service.authenticate(credential, ADDRESS)));
    release();
    for (const error of await Promise.all(requests)) expect(error.code).toBe(ErrorCode.UNAUTHENTICATED);
    expect(store.calls).toHaveLength(1);
    expect(recordFailure).toHaveBeenCalledTimes(1);
  });

  it('is bounded: the least recently used credential goes first', async () => {
    const store = lookup();
    const service = new AuthService({ key, users: store, cacheMaxEntries: 2 });
    const [a, b, c] = [1, 2, 3].map(() => encodeCredential('alice', 'alice-pw', key)) as [string, string, string];
    await service.authenticate(a, ADDRESS);
    await service.authenticate(b, ADDRESS);
    await service.authenticate(a, ADDRESS); // a is now the most recently used
    await service.authenticate(c, ADDRESS); // evicts b
    expect(store.calls).toHaveLength(3);
    await service.authenticate(a, ADDRESS);
    expect(store.calls).toHaveLength(3);
    await service.authenticate(b, ADDRESS);
    expect(store.calls).toHaveLength(4);
  });

  it('can be turned off with cacheTtlMs: 0', async () => {
    const store = lookup();
    const service = new AuthService({ key, users: store, cacheTtlMs: 0 });
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
    const service = new AuthService({ key, users: store, now: time.now });
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
    const service = new AuthService({ key, users: lookup() });
    await failTenTimes(service, 'nobody');
    const error = await rejection(service.authenticate(encodeCredential('nobody', 'x', key), ADDRESS));
    expect(error.code).toBe(ErrorCode.TOO_MANY_REQUESTS);
  });

  it('resets the streak on a successful login', async () => {
    const service = new AuthService({ key, users: lookup(), cacheTtlMs: 0 });
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
    const service = new AuthService({ key, users: lookup() });
    await failTenTimes(service, 'alice', '203.0.113.9');
    await expect(service.authenticate(encodeCredential('bob', 'alice-pw', key), '203.0.113.9')).resolves.toMatchObject({ id: 2 });
    await expect(service.authenticate(encodeCredential('bob', 'alice-pw', key), ADDRESS)).resolves.toMatchObject({ id: 2 });
  });

  it('keeps serving an already verified credential while others guess at the same username', async () => {
    const service = new AuthService({ key, users: lookup() });
    const credential = encodeCredential('alice', 'alice-pw', key);
    await service.authenticate(credential, ADDRESS);
    await failTenTimes(service, 'alice', '203.0.113.9');
    await expect(service.authenticate(credential, ADDRESS)).resolves.toMatchObject({ id: 1 });
  });

  it('does not count malformed credentials against anyone', async () => {
    const throttle = new LoginThrottle();
    const recordFailure = jest.spyOn(throttle, 'recordFailure');
    const service = new AuthService({ key, users: lookup(), throttle });
    await rejection(service.authenticate('zz', ADDRESS));
    await rejection(service.authenticate(encodeCredential('alice', 'alice-pw', Buffer.alloc(32, 9)), ADDRESS));
    expect(recordFailure).not.toHaveBeenCalled();
  });
});
