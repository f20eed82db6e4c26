import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { unauthenticated } from '../../shared/errors';

/**
 * The seed's `credential` (docs/contract.md "Credential"): hex of the UTF-8 JSON
 * `{"username", "password": "<hex ciphertext>", "nonce": "<hex>", "authTag": "<hex>"}`, the
 * password encrypted with AES-256-GCM under the server's shared key.
 */
export interface DecodedCredential {
  readonly username: string;
  readonly password: string;
}

/** Longest credential accepted, in hex digits once whitespace is removed (8 KiB). */
export const MAX_CREDENTIAL_HEX_LENGTH = 8 * 1024;

/**
 * Longest raw input looked at. Legacy clients wrap the hex over several lines, so some
 * whitespace is allowed, but a megabyte of spaces is refused before any regex runs over it.
 */
const MAX_RAW_CREDENTIAL_LENGTH = 2 * MAX_CREDENTIAL_HEX_LENGTH;

const KEY_LENGTH = 32;
const AUTH_TAG_LENGTH = 16;
const NONCE_LENGTHS: ReadonlySet<number> = new Set([12, 16]);
const HEX = /^[0-9a-f]*$/i;

function assertKey(key: Buffer): void {
  // A wrong key length is a configuration bug, not a bad credential: let it surface as one.
  if (!Buffer.isBuffer(key) || key.length !== KEY_LENGTH) {
    throw new RangeError(`The credential key must be ${KEY_LENGTH} bytes (AES-256)`);
  }
}

/**
 * The canonical form of a credential: whitespace removed, lower-case hex. Two spellings of the
 * same credential (the seed's multi-line copy, upper-case hex) normalize to the same string, which
 * is what the authentication cache keys on.
 *
 * @throws DomainError UNAUTHENTICATED when the input is not a string of hex digits of even length
 *   within {@link MAX_CREDENTIAL_HEX_LENGTH}.
 */
export function normalizeCredentialHex(hex: unknown): string {
  if (typeof hex !== 'string' || hex.length > MAX_RAW_CREDENTIAL_LENGTH) throw unauthenticated();
  const compact = hex.replace(/\s+/g, '').toLowerCase();
  if (compact.length === 0 || compact.length > MAX_CREDENTIAL_HEX_LENGTH || compact.length % 2 !== 0 || !HEX.test(compact)) {
    throw unauthenticated();
  }
  return compact;
}

/** Bytes of a hex field of the JSON; undefined when it is not a string of whole hex bytes. */
function hexField(value: unknown): Buffer | undefined {
  if (typeof value !== 'string' || value.length % 2 !== 0 || !HEX.test(value)) return undefined;
  return Buffer.from(value, 'hex');
}

function decodeOrThrow(hex: unknown, key: Buffer): DecodedCredential {
  const json = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(normalizeCredentialHex(hex), 'hex'));
  const parsed: unknown = JSON.parse(json);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw unauthenticated();
  const fields = parsed as Record<string, unknown>;

  const username = fields.username;
  const ciphertext = hexField(fields.password);
  const nonce = hexField(fields.nonce);
  const authTag = hexField(fields.authTag);
  if (
    typeof username !== 'string' ||
    username.length === 0 ||
    ciphertext === undefined ||
    nonce === undefined ||
    !NONCE_LENGTHS.has(nonce.length) ||
    authTag === undefined ||
    authTag.length !== AUTH_TAG_LENGTH
  ) {
    throw unauthenticated();
  }

  // authTagLength pins the tag size so a truncated tag can never be accepted.
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: AUTH_TAG_LENGTH });
  decipher.setAuthTag(authTag);
  const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  // ignoreBOM keeps a leading U+FEFF as part of the password instead of silently dropping it.
  const password = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(plaintext);
  return { username, password };
}

/**
 * Decodes and decrypts a credential.
 *
 * Accepts the hex with whitespace or line breaks inside (the seed prints it over several lines)
 * and in either case. Nonces of 12 or 16 bytes are accepted (the seed's are 16); the tag must be
 * 16 bytes. The password is not checked here: that is the AuthService's job.
 *
 * @param hex the credential as the client sent it (any type: it comes straight from a request).
 * @param key the 32-byte AES-256-GCM key shared with the clients.
 * @throws DomainError UNAUTHENTICATED, with one message whatever went wrong, so a client cannot
 *   tell a malformed credential from a wrong key or a tampered one.
 * @throws RangeError when `key` is not 32 bytes (a configuration bug).
 */
export function decodeCredential(hex: unknown, key: Buffer): DecodedCredential {
  assertKey(key);
  try {
    return decodeOrThrow(hex, key);
  } catch {
    throw unauthenticated();
  }
}

/** Options of {@link encodeCredential}. */
export interface EncodeCredentialOptions {
  /** IV length in bytes: 16 like the seed (default), or 12, GCM's native size. */
  nonceLength?: 12 | 16;
}

/**
 * Builds a credential the way legacy clients do: a fresh random nonce, AES-256-GCM, hex of the
 * JSON. Used by the `credential` command and by tests.
 *
 * @returns lower-case hex on one line.
 */
export function encodeCredential(username: string, password: string, key: Buffer, options: EncodeCredentialOptions = {}): string {
  assertKey(key);
  const nonceLength = options.nonceLength ?? 16;
  if (!NONCE_LENGTHS.has(nonceLength)) throw new RangeError('nonceLength must be 12 or 16');
  const nonce = randomBytes(nonceLength);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: AUTH_TAG_LENGTH });
  const ciphertext = Buffer.concat([cipher.update(password, 'utf8'), cipher.final()]);
  const json = JSON.stringify({
    username,
    password: ciphertext.toString('hex'),
    nonce: nonce.toString('hex'),
    authTag: cipher.getAuthTag().toString('hex'),
  });
  return Buffer.from(json, 'utf8').toString('hex');
}
