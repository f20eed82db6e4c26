import { scryptSync } from 'node:crypto';
import fc from 'fast-check';
import { DomainError, ErrorCode, INVALID_CREDENTIAL_MESSAGE } from '../../shared/errors';
import { Role } from '../user/role';
import { AuthService, type StoredUser } from './auth.service';
import { decodeCredential, encodeCredential, MAX_CREDENTIAL_HEX_LENGTH } from './credential';
import { LoginThrottle } from './login-throttle';
import { PasswordHasher } from './password';

/**
 * Property tests of the credential decoder and of authentication (docs/contract.md "Credential"): whatever a
 * client sends as `credential`, the answer is a decoded credential (and then a viewer) or exactly
 * the one UNAUTHENTICATED error with the one message, never another exception. Tampering with any
 * encrypted byte is always caught by the GCM tag.
 */

const key = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const otherKey = Buffer.alloc(32, 0x5a);

type Outcome = { ok: true; username: string; password: string } | { ok: false; error: unknown };

function decode(input: unknown, withKey = key): Outcome {
  try {
    return { ok: true, ...decodeCredential(input, withKey) };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The single refusal: a DomainError UNAUTHENTICATED with the one message and no details. */
const isTheRefusal = (error: unknown): boolean =>
  error instanceof DomainError &&
  error.code === ErrorCode.UNAUTHENTICATED &&
  error.message === INVALID_CREDENTIAL_MESSAGE &&
  Object.keys(error.details).length === 0;

const decodedOrRefused = (outcome: Outcome): boolean =>
  outcome.ok ? typeof outcome.username === 'string' && outcome.username.length > 0 && typeof outcome.password === 'string' : isTheRefusal(outcome.error);

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const hexOf = (value: unknown): string => Buffer.from(JSON.stringify(value) ?? 'undefined', 'utf8').toString('hex');

/** A hex field of any length, sometimes odd, sometimes not hex at all. */
const hexField = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map(hex),
  fc.constantFrom(12, 16).chain((length) => fc.uint8Array({ minLength: length, maxLength: length }).map(hex)),
  fc.stringMatching(/^[0-9a-fA-F]{0,40}$/),
  fc.string({ maxLength: 20 }),
  fc.jsonValue({ maxDepth: 1 }),
);

/** JSON objects shaped more or less like a credential: right keys, wrong types and lengths. */
const credentialShapedJson = fc.record(
  {
    username: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('alice', '', ' '), fc.jsonValue({ maxDepth: 1 })),
    password: hexField,
    nonce: hexField,
    authTag: hexField,
    extra: fc.jsonValue({ maxDepth: 1 }),
  },
  { requiredKeys: [] },
);

/** Every kind of thing a client might put in `credential`. */
const anyCredentialInput = fc.oneof(
  fc.anything({ withBigInt: true, withNullPrototype: true, withBoxedValues: true }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.stringMatching(/^[0-9a-fA-F \n\t]{0,300}$/),
  fc.uint8Array({ maxLength: 300 }).map(hex),
  fc.jsonValue({ maxDepth: 3 }).map(hexOf),
  credentialShapedJson.map(hexOf),
  // Valid UTF-8 text that is not JSON, and JSON wrapped in stray bytes.
  fc.string({ maxLength: 60 }).map((text) => Buffer.from(text, 'utf8').toString('hex')),
  credentialShapedJson.map((value) => `00${hexOf(value)}ff`),
);

/** A credential made the legitimate way, for properties that then break one thing. */
const validCredential = fc.record({
  username: fc.string({ minLength: 1, maxLength: 30, unit: 'grapheme' }),
  password: fc.string({ maxLength: 40, unit: 'grapheme' }),
  nonceLength: fc.constantFrom(12 as const, 16 as const),
});

describe('decodeCredential (properties)', () => {
  it('answers a credential or the single UNAUTHENTICATED error, whatever the input', () => {
    fc.assert(
      fc.property(anyCredentialInput, (input) => decodedOrRefused(decode(input))),
      { numRuns: 10_000 },
    );
  });

  it('refuses credential-shaped JSON whose fields do not decrypt under the key', () => {
    fc.assert(
      fc.property(credentialShapedJson, (value) => {
        const outcome = decode(hexOf(value));
        // Random bytes never carry a valid GCM tag (2^-128), so every such credential is refused.
        return !outcome.ok && isTheRefusal(outcome.error);
      }),
      { numRuns: 5000 },
    );
  });

  it('round-trips every username and password, with either nonce length, in any hex case and wrapping', () => {
    fc.assert(
      fc.property(validCredential, fc.boolean(), fc.integer({ min: 1, max: 120 }), ({ username, password, nonceLength }, upper, width) => {
        const credential = encodeCredential(username, password, key, { nonceLength });
        fc.pre(credential.length <= MAX_CREDENTIAL_HEX_LENGTH);
        const cased = upper ? credential.toUpperCase() : credential;
        const wrapped = (cased.match(new RegExp(`.{1,${width}}`, 'g')) ?? []).join('\n    ');
        const outcome = decode(wrapped);
        return outcome.ok && outcome.username === username && outcome.password === password;
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses every credential with one encrypted byte changed, or under another key', () => {
    fc.assert(
      fc.property(
        validCredential,
        fc.constantFrom('password', 'nonce', 'authTag'),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        ({ username, password, nonceLength }, field, at, flip) => {
          const credential = encodeCredential(username, password, key, { nonceLength });
          const json = JSON.parse(Buffer.from(credential, 'hex').toString('utf8')) as Record<string, string>;
          const bytes = Buffer.from(json[field], 'hex');
          // An empty password has no ciphertext byte to change: change the tag instead.
          const target = bytes.length > 0 ? field : 'authTag';
          const changed = Buffer.from(json[target], 'hex');
          changed[at % changed.length] ^= flip;
          const tampered = hexOf({ ...json, [target]: changed.toString('hex') });
          const outcomes = [decode(tampered), decode(credential, otherKey)];
          return outcomes.every((outcome) => !outcome.ok && isTheRefusal(outcome.error));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('refuses every truncated credential; an extended one is decoded or refused, nothing else', () => {
    fc.assert(
      fc.property(validCredential, fc.nat(), fc.stringMatching(/^[0-9a-f]{1,8}$/), ({ username, password, nonceLength }, cut, tail) => {
        const credential = encodeCredential(username, password, key, { nonceLength });
        const truncated = credential.slice(0, cut % credential.length);
        // A tail of JSON whitespace (`20`, `0a`) still decodes: that is fine, it is the same JSON.
        const truncatedOutcome = decode(truncated);
        return !truncatedOutcome.ok && isTheRefusal(truncatedOutcome.error) && decodedOrRefused(decode(credential + tail));
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses an oversized credential without looking at it', () => {
    const huge = encodeCredential('alice', 'x'.repeat(MAX_CREDENTIAL_HEX_LENGTH), key);
    const outcome = decode(huge);
    expect(outcome.ok).toBe(false);
    expect(isTheRefusal((outcome as { error: unknown }).error)).toBe(true);
    expect(isTheRefusal((decode(' '.repeat(10 * MAX_CREDENTIAL_HEX_LENGTH)) as { error: unknown }).error)).toBe(true);
  });
});

/**
 * A stored hash with the cheapest scrypt parameters verifyPassword accepts (N = 1024), so that
 * thousands of authentications stay fast; the format is the one hashPassword writes.
 */
function cheapHash(password: string): string {
  const salt = Buffer.alloc(16, 3);
  const hash = scryptSync(password, salt, 32, { N: 1024, r: 8, p: 1 });
  return ['scrypt', 1024, 8, 1, salt.toString('base64'), hash.toString('base64')].join('$');
}

describe('AuthService.authenticate (properties)', () => {
  const USERS: StoredUser[] = [
    { id: 1, username: 'alice', passwordHash: cheapHash('alice password'), roles: [Role.CUSTOMER], isAdmin: false },
    { id: 2, username: 'bob', passwordHash: cheapHash('bob password'), roles: [Role.STAFF, Role.SCHEDULER], isAdmin: false },
  ];
  const PASSWORDS: Record<string, string> = { alice: 'alice password', bob: 'bob password' };

  /** A fresh service whose throttle never locks, so every answer is about the credential itself. */
  const service = () =>
    new AuthService({
      key,
      users: { findByUsername: async (username) => USERS.find((user) => user.username === username) ?? null },
      // The unknown users' dummy hash at the same cheap parameters as the stored ones.
      hasher: new PasswordHasher({ params: { N: 1024, r: 8, p: 1 } }),
      throttle: new LoginThrottle({
        perUsername: { maxFailures: 1e9, windowMs: 1, lockMs: 1 },
        perAddress: { maxFailures: 1e9, windowMs: 1, lockMs: 1 },
      }),
    });

  /** Right user with the right password, right user with a wrong one, an unknown user, or junk. */
  const attempt = fc.oneof(
    {
      arbitrary: fc.constantFrom('alice', 'bob').map((username) => ({ credential: encodeCredential(username, PASSWORDS[username], key), expect: username })),
      weight: 3,
    },
    {
      arbitrary: fc.tuple(fc.constantFrom('alice', 'bob'), fc.string({ maxLength: 20 })).map(([username, password]) => ({
        credential: encodeCredential(username, password, key),
        expect: password === PASSWORDS[username] ? username : null,
      })),
      weight: 3,
    },
    // An unknown user costs a dummy scrypt (no enumeration by timing): keep them few.
    {
      arbitrary: fc.string({ minLength: 1, maxLength: 20 }).map((username) => ({
        credential: encodeCredential(username, 'alice password', key),
        expect: username === 'alice' ? 'alice' : null,
      })),
      weight: 1,
    },
    { arbitrary: anyCredentialInput.map((credential) => ({ credential, expect: null as string | null })), weight: 6 },
  );

  it('answers the right viewer or the single UNAUTHENTICATED error, whatever the credential', async () => {
    const auth = service();
    await fc.assert(
      fc.asyncProperty(attempt, async ({ credential, expect: expected }) => {
        try {
          const viewer = await auth.authenticate(credential, '127.0.0.1');
          return viewer.username === expected && viewer.id === USERS.find((user) => user.username === expected)?.id;
        } catch (error) {
          return expected === null && isTheRefusal(error);
        }
      }),
      { numRuns: 500 },
    );
  });
});
