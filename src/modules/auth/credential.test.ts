import { createCipheriv, randomBytes } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../cli/credential';
import { DomainError, ErrorCode, INVALID_CREDENTIAL_MESSAGE } from '../../shared/errors';
import { MAX_CREDENTIAL_HEX_LENGTH, decodeCredential, encodeCredential, normalizeCredentialHex } from './credential';
import { scratchDir } from '../../../test/support/scratch';

const key = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const otherKey = Buffer.alloc(32, 7);

const hexOfJson = (value: unknown): string => Buffer.from(JSON.stringify(value), 'utf8').toString('hex');

/** Fields of a credential encrypted the legitimate way, for tests that then break one thing. */
function fieldsFor(plaintext: Buffer, nonceLength = 16, username = 'alice') {
  const nonce = randomBytes(nonceLength);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return {
    username,
    password: ciphertext.toString('hex'),
    nonce: nonce.toString('hex'),
    authTag: cipher.getAuthTag().toString('hex'),
  };
}

const validFields = fieldsFor(Buffer.from('secret', 'utf8'));

/** Wraps hex the way the seed document prints it: indented lines of 89 digits. */
const wrapLikeSeed = (hex: string): string => (hex.match(/.{1,89}/g) ?? []).map((line) => `    ${line}`).join('\n');

function expectUnauthenticated(run: () => unknown): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(DomainError);
  expect(thrown).toMatchObject({ code: ErrorCode.UNAUTHENTICATED, message: INVALID_CREDENTIAL_MESSAGE, details: {} });
}

describe('encodeCredential / decodeCredential', () => {
  it.each([12, 16] as const)('round-trips with a %i-byte nonce', (nonceLength) => {
    const hex = encodeCredential('alice', 'correct horse', key, { nonceLength });
    expect(hex).toMatch(/^[0-9a-f]+$/);
    const json = JSON.parse(Buffer.from(hex, 'hex').toString('utf8')) as Record<string, string>;
    expect(Object.keys(json)).toEqual(['username', 'password', 'nonce', 'authTag']);
    expect(json.nonce).toHaveLength(nonceLength * 2);
    expect(json.authTag).toHaveLength(32);
    expect(decodeCredential(hex, key)).toEqual({ username: 'alice', password: 'correct horse' });
  });

  it('uses a 16-byte nonce by default, like the seed', () => {
    const json = JSON.parse(Buffer.from(encodeCredential('alice', 'pw', key), 'hex').toString('utf8')) as { nonce: string };
    expect(json.nonce).toHaveLength(32);
  });

  it('uses a fresh nonce every time', () => {
    expect(encodeCredential('alice', 'pw', key)).not.toBe(encodeCredential('alice', 'pw', key));
  });

  it.each([
    ['non-ASCII', 'pässwörd ключ 密码 🔑'],
    ['a leading byte-order mark', '\uFEFFpw'],
    ['surrounding spaces', '  pw  '],
    ['JSON metacharacters', '"}\\{\n'],
    ['an empty password', ''],
  ])('round-trips a password with %s exactly', (_name, password) => {
    expect(decodeCredential(encodeCredential('bob', password, key), key).password).toBe(password);
  });

  it('round-trips a non-ASCII username', () => {
    expect(decodeCredential(encodeCredential('Zoë 张', 'pw', key), key).username).toBe('Zoë 张');
  });

  it('rejects a nonce length other than 12 or 16 when encoding', () => {
    expect(() => encodeCredential('alice', 'pw', key, { nonceLength: 8 as 12 })).toThrow(RangeError);
  });

  it('refuses a key that is not 32 bytes, as a configuration error rather than a 401', () => {
    expect(() => decodeCredential(encodeCredential('a', 'b', key), Buffer.alloc(16))).toThrow(RangeError);
    expect(() => encodeCredential('a', 'b', Buffer.alloc(31))).toThrow(RangeError);
  });
});

describe('decodeCredential known answers', () => {
  // Computed independently with Python's `cryptography` (AESGCM) for key 00..1f and password
  // "pässwörd-1"; the 16-byte nonce is the seed document's.
  it('decodes a 12-byte-nonce vector', () => {
    const hex =
      '7b22757365726e616d65223a22616c696365222c2270617373776f7264223a22333763313732363862363932303161646666323562' +
      '616261222c226e6f6e6365223a22303030313032303330343035303630373038303930613062222c2261757468546167223a226535' +
      '386539663332333137316135343637333962386431666461383063643536227d';
    expect(decodeCredential(hex, key)).toEqual({ username: 'alice', password: 'pässwörd-1' });
  });

  it('decodes a 16-byte-nonce vector', () => {
    const hex =
      '7b22757365726e616d65223a22616c696365222c2270617373776f7264223a22623265383466623031303066323837356363306463' +
      '333133222c226e6f6e6365223a223631326364623439383539326164343039643839326436303865633632333263222c2261757468' +
      '546167223a223265376565396532666364666634363831376232363337353666316533663632227d';
    expect(decodeCredential(hex, key)).toEqual({ username: 'alice', password: 'pässwörd-1' });
  });
});

describe('decodeCredential input forms', () => {
  const hex = encodeCredential('alice', 'secret', key);

  it('accepts the hex wrapped over several indented lines, as copied from the seed', () => {
    expect(wrapLikeSeed(hex)).toContain('\n');
    expect(decodeCredential(wrapLikeSeed(hex), key)).toEqual({ username: 'alice', password: 'secret' });
    expect(decodeCredential(`\r\n\t${hex.slice(0, 10)}\r\n${hex.slice(10)}\n`, key).username).toBe('alice');
  });

  it('accepts upper-case and mixed-case hex', () => {
    expect(decodeCredential(hex.toUpperCase(), key).password).toBe('secret');
    const mixed = [...hex].map((c, i) => (i % 3 === 0 ? c.toUpperCase() : c)).join('');
    expect(decodeCredential(mixed, key).password).toBe('secret');
  });

  it('accepts upper-case hex inside the JSON fields', () => {
    const upper = { ...validFields, password: validFields.password.toUpperCase(), authTag: validFields.authTag.toUpperCase() };
    expect(decodeCredential(hexOfJson(upper), key)).toEqual({ username: 'alice', password: 'secret' });
  });

  it('accepts extra JSON fields and whitespace in the JSON', () => {
    const json = `{ "nonce": "${validFields.nonce}", "extra": 1,\n "username": "alice", "authTag": "${validFields.authTag}", "password": "${validFields.password}" }`;
    expect(decodeCredential(Buffer.from(json).toString('hex'), key).password).toBe('secret');
  });

  it("reads the seed document's own multi-line credential up to decryption", () => {
    const seed = `7b22757365726e616d65223a22737570657261646d696e222c2270617373776f7264223a22646163663034626
    3666431666561653063323834222c226e6f6e6365223a223631326364623439383539326164343039643839326
    436303865633632333263222c2261757468546167223a223033666330653830383034393738333162653761323
    132663963636631386233227d`;
    const json = JSON.parse(Buffer.from(normalizeCredentialHex(seed), 'hex').toString('utf8')) as Record<string, string>;
    expect(json).toMatchObject({ username: 'superadmin', nonce: '612cdb498592ad409d892d608ec6232c' });
    // The seed's key is not ours, so it fails where a wrong key fails: at the tag.
    expectUnauthenticated(() => decodeCredential(seed, key));
  });

  it('normalizes every spelling of one credential to the same string', () => {
    expect(normalizeCredentialHex(wrapLikeSeed(hex.toUpperCase()))).toBe(hex);
  });
});

describe('decodeCredential failures: one 401 for everything', () => {
  const good = encodeCredential('alice', 'secret', key);
  const flipHexDigit = (text: string, index: number): string => text.slice(0, index) + (text[index] === '0' ? '1' : '0') + text.slice(index + 1);

  const malformed: Array<[string, unknown]> = [
    ['undefined', undefined],
    ['null', null],
    ['a number', 12345],
    ['an object', { username: 'alice' }],
    ['an array', [good]],
    ['a Buffer', Buffer.from(good, 'hex')],
    ['an empty string', ''],
    ['only whitespace', ' \n\t '],
    ['odd-length hex', good.slice(0, -1)],
    ['non-hex characters', `${good.slice(0, -2)}zz`],
    ['a 0x prefix', `0x${good}`],
    ['hex longer than 8 KiB', 'ab'.repeat(MAX_CREDENTIAL_HEX_LENGTH / 2 + 1)],
    ['huge whitespace padding', `${' '.repeat(4 * MAX_CREDENTIAL_HEX_LENGTH)}${good}`],
    ['hex of text that is not JSON', Buffer.from('hello world').toString('hex')],
    ['hex of invalid UTF-8', 'c328ffff'],
    ['hex of single-quoted JSON', Buffer.from(`{'username':'alice'}`).toString('hex')],
    ['a JSON array', hexOfJson([validFields])],
    ['JSON null', hexOfJson(null)],
    ['a JSON string', hexOfJson('alice')],
    ['missing username', hexOfJson({ ...validFields, username: undefined })],
    ['a numeric username', hexOfJson({ ...validFields, username: 42 })],
    ['an empty username', hexOfJson({ ...validFields, username: '' })],
    ['missing password', hexOfJson({ ...validFields, password: undefined })],
    ['a non-hex password', hexOfJson({ ...validFields, password: 'secret' })],
    ['an odd-length password', hexOfJson({ ...validFields, password: `${validFields.password}0` })],
    ['a numeric password', hexOfJson({ ...validFields, password: 1234 })],
    ['missing nonce', hexOfJson({ ...validFields, nonce: undefined })],
    ['an 8-byte nonce', hexOfJson({ ...validFields, nonce: '00'.repeat(8) })],
    ['a 13-byte nonce', hexOfJson({ ...validFields, nonce: '00'.repeat(13) })],
    ['a 32-byte nonce', hexOfJson({ ...validFields, nonce: '00'.repeat(32) })],
    ['an empty nonce', hexOfJson({ ...validFields, nonce: '' })],
    ['missing authTag', hexOfJson({ ...validFields, authTag: undefined })],
    ['a 12-byte authTag (truncated tag)', hexOfJson({ ...validFields, authTag: validFields.authTag.slice(0, 24) })],
    ['a 17-byte authTag', hexOfJson({ ...validFields, authTag: `${validFields.authTag}00` })],
    ['a non-hex authTag', hexOfJson({ ...validFields, authTag: 'x'.repeat(32) })],
    ['a tampered authTag', hexOfJson({ ...validFields, authTag: flipHexDigit(validFields.authTag, 5) })],
    ['a tampered ciphertext', hexOfJson({ ...validFields, password: flipHexDigit(validFields.password, 0) })],
    ['a tampered nonce', hexOfJson({ ...validFields, nonce: flipHexDigit(validFields.nonce, 3) })],
    ['a truncated ciphertext', hexOfJson({ ...validFields, password: validFields.password.slice(0, -2) })],
    ['a plaintext that is not UTF-8', hexOfJson(fieldsFor(Buffer.from([0x70, 0xff, 0xfe, 0x77])))],
  ];

  it.each(malformed)('rejects %s', (_name, input) => {
    expectUnauthenticated(() => decodeCredential(input, key));
  });

  it('rejects a credential made under another key', () => {
    expectUnauthenticated(() => decodeCredential(good, otherKey));
    expectUnauthenticated(() => decodeCredential(encodeCredential('alice', 'secret', otherKey), key));
  });

  it('gives exactly the same error for a malformed credential and a wrong key', () => {
    const messages = [undefined, 'zz', good].map((input) => {
      try {
        decodeCredential(input, otherKey);
      } catch (error) {
        return { code: (error as DomainError).code, message: (error as DomainError).message };
      }
      return undefined;
    });
    expect(new Set(messages.map((m) => JSON.stringify(m))).size).toBe(1);
  });

  it('accepts a credential just under the size bound', () => {
    const longName = 'n'.repeat(3000);
    const hex = encodeCredential(longName, 'pw', key);
    expect(hex.length).toBeLessThanOrEqual(MAX_CREDENTIAL_HEX_LENGTH);
    expect(decodeCredential(hex, key).username).toBe(longName);
  });
});

describe('credential command (src/cli/credential.ts)', () => {
  const keyHex = key.toString('hex');
  let dataDir: string;

  beforeEach(() => {
    dataDir = scratchDir('credential-cli-');
  });
  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function run(argv: string[], env: NodeJS.ProcessEnv, stdinText?: string) {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    if (stdinText !== undefined) stdin.end(stdinText);
    else stdin.end();
    const code = await main(argv, env, { stdin, stdout, stderr });
    return { code, out, err };
  }

  it('prints only the credential hex for CREDENTIAL_KEY', async () => {
    const { code, out, err } = await run(['alice', 's3cret'], { CREDENTIAL_KEY: keyHex });
    expect(code).toBe(0);
    expect(err).toBe('');
    expect(out).toMatch(/^[0-9a-f]+\n$/);
    expect(decodeCredential(out, key)).toEqual({ username: 'alice', password: 's3cret' });
  });

  it('honours --nonce-length 12 and --nonce-length=16', async () => {
    for (const [argv, length] of [
      [['--nonce-length', '12', 'alice', 'pw'], 24],
      [['--nonce-length=16', 'alice', 'pw'], 32],
    ] as const) {
      const { code, out } = await run([...argv], { CREDENTIAL_KEY: keyHex });
      expect(code).toBe(0);
      expect((JSON.parse(Buffer.from(out.trim(), 'hex').toString()) as { nonce: string }).nonce).toHaveLength(length);
    }
  });

  it('reads the password from the first line of stdin when it is omitted', async () => {
    const { code, out } = await run(['alice'], { CREDENTIAL_KEY: keyHex }, 'from stdin\r\nignored\n');
    expect(code).toBe(0);
    expect(decodeCredential(out, key).password).toBe('from stdin');
  });

  it('takes a password that starts with a dash after --', async () => {
    const { code, out } = await run(['--', 'alice', '-dash'], { CREDENTIAL_KEY: keyHex });
    expect(code).toBe(0);
    expect(decodeCredential(out, key).password).toBe('-dash');
  });

  it('uses the key file the server generated in DATA_DIR', async () => {
    writeFileSync(path.join(dataDir, 'credential.key'), `${keyHex}\n`);
    const { code, out } = await run(['alice', 'pw'], { DATA_DIR: dataDir });
    expect(code).toBe(0);
    expect(decodeCredential(out, key).username).toBe('alice');
  });

  it.each([
    ['no arguments', [], undefined],
    ['too many arguments', ['a', 'b', 'c'], undefined],
    ['a bad nonce length', ['--nonce-length', '8', 'alice', 'pw'], undefined],
    ['a missing nonce length', ['alice', 'pw', '--nonce-length'], undefined],
    ['an unknown option', ['--verbose', 'alice', 'pw'], undefined],
    ['an empty username', ['', 'pw'], undefined],
    ['nothing on stdin', ['alice'], ''],
  ])('exits 2 with usage on stderr and nothing on stdout for %s', async (_name, argv, stdinText) => {
    const { code, out, err } = await run([...argv], { CREDENTIAL_KEY: keyHex }, stdinText);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toContain('Usage:');
  });

  it('exits 2 without creating a key when none is configured', async () => {
    const { code, out, err } = await run(['alice', 'pw'], { DATA_DIR: dataDir });
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toContain('CREDENTIAL_KEY');
    expect(existsSync(path.join(dataDir, 'credential.key'))).toBe(false);
  });

  it('exits 2 for a malformed CREDENTIAL_KEY', async () => {
    const { code, err } = await run(['alice', 'pw'], { CREDENTIAL_KEY: 'abc' });
    expect(code).toBe(2);
    expect(err).toContain('CREDENTIAL_KEY');
  });

  it('prints help on stdout with --help', async () => {
    const { code, out } = await run(['--help'], {});
    expect(code).toBe(0);
    expect(out).toContain('Usage:');
  });
});
