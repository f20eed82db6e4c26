import { DomainError, ErrorCode, isDomainError } from '../../shared/errors';
import { uuidv7 } from '../../shared/uuid';
import { ImageRef, imageUrl, parseImageRef, parseImageRefs } from './image-ref';
import { MAX_IMAGE_BYTES, MAX_IMAGES_PER_TICKET } from './image.limits';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const WEBP = Buffer.from('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==', 'base64');
// SOI, APP0/JFIF, EOI: its base64 starts with "/9j/", which also looks like the start of a path.
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xd9]);
/** A PNG prefix of 36 bytes (a multiple of 3), so base64 of more bytes can be appended cleanly. */
const PNG_HEAD = PNG.subarray(0, 36);

const ID = uuidv7();
const TEXT_FILE = Buffer.from('meeting notes, definitely not an image\n');

function domainErrorFrom(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (error) {
    if (isDomainError(error)) {
      return error;
    }
    throw error;
  }
  throw new Error('expected a DomainError, nothing was thrown');
}

function expectInline(ref: ImageRef, bytes: Buffer, mime: string): void {
  expect(ref.kind).toBe('inline');
  if (ref.kind === 'inline') {
    expect(ref.mime).toBe(mime);
    expect(ref.bytes.equals(bytes)).toBe(true);
  }
}

const URL_MESSAGE = 'must be an image URL returned by /uploads or a data: URL';

// Built once: ~14 MB strings each, shared by every size test.
const atLimitImage = Buffer.alloc(MAX_IMAGE_BYTES + 1);
PNG_HEAD.copy(atLimitImage);
const atLimitBase64 = atLimitImage.subarray(0, MAX_IMAGE_BYTES).toString('base64');
const overLimitBase64 = atLimitImage.toString('base64');

describe('parseImageRef: stored image URLs', () => {
  it.each([
    ['absolute http URL', `http://127.0.0.1:4000/images/${ID}`],
    ['absolute https URL on another host', `https://cdn.example.com/images/${ID}`],
    ['with a file extension', `https://example.com/images/${ID}.png`],
    ['with another extension', `http://localhost/images/${ID}.jpeg`],
    ['with a query string and fragment', `http://localhost/images/${ID}?download=1#top`],
    ['upper-case scheme', `HTTPS://example.com/images/${ID}`],
    ['a path', `/images/${ID}`],
    ['a path with extension and query', `/images/${ID}.webp?v=2`],
    ['a base path before /images (PUBLIC_URL behind a proxy)', `https://example.com/helpdesk/images/${ID}`],
    ['surrounding whitespace', `  /images/${ID}\n`],
  ])('%s → stored', (_name, url) => {
    expect(parseImageRef(url, 'images[0]')).toEqual({ kind: 'stored', id: ID });
  });

  it('lower-cases the id', () => {
    expect(parseImageRef(`/images/${ID.toUpperCase()}`, 'images[0]')).toEqual({ kind: 'stored', id: ID });
  });

  it.each([
    ['another path', `https://example.com/uploads/${ID}`],
    ['not a uuid', 'https://example.com/images/12345'],
    ['a uuid with a typo', `/images/${ID.slice(0, -1)}x`],
    ['more path after the id', `/images/${ID}/thumbnail`],
    ['a trailing slash', `/images/${ID}/`],
    ['the id only in the query', `https://example.com/view?image=/images/${ID}`],
    ['an ftp URL', `ftp://example.com/images/${ID}`],
    ['a file URL', `file:///images/${ID}`],
    ['a javascript URL', 'javascript:alert(1)'],
    ['a bare uuid', ID],
    ['an empty string', ''],
    ['plain words', 'my screenshot'],
    ['an unparsable URL', 'http://[::1/images/x'],
  ])('%s → BAD_INPUT naming the field', (_name, url) => {
    const error = domainErrorFrom(() => parseImageRef(url, 'images[4]'));
    expect(error.code).toBe(ErrorCode.BAD_INPUT);
    expect(error.details.field).toBe('images[4]');
    expect(error.message).toBe(`images[4] ${URL_MESSAGE}`);
  });
});

describe('parseImageRef: data URLs', () => {
  it.each([
    ['PNG', PNG, 'image/png'],
    ['JPEG', JPEG, 'image/jpeg'],
    ['GIF', GIF, 'image/gif'],
    ['WebP', WEBP, 'image/webp'],
  ])('decodes a %s', (_name, bytes, mime) => {
    const ref = parseImageRef(`data:${mime};base64,${bytes.toString('base64')}`, 'images[0]');
    expectInline(ref, bytes, mime);
  });

  it('tolerates a missing media type', () => {
    expectInline(parseImageRef(`data:;base64,${PNG.toString('base64')}`, 'images[0]'), PNG, 'image/png');
  });

  it('tolerates extra parameters and upper case', () => {
    const url = `DATA:IMAGE/PNG;name=shot.png;BASE64,${PNG.toString('base64')}`;
    expectInline(parseImageRef(url, 'images[0]'), PNG, 'image/png');
  });

  it('lets the bytes decide the type, not the declared media type', () => {
    expectInline(parseImageRef(`data:image/gif;base64,${PNG.toString('base64')}`, 'f'), PNG, 'image/png');
    expectInline(parseImageRef(`data:application/octet-stream;base64,${JPEG.toString('base64')}`, 'f'), JPEG, 'image/jpeg');
  });

  it('tolerates whitespace and line breaks inside the base64', () => {
    const wrapped = PNG.toString('base64').replace(/(.{16})/g, '$1\r\n ');
    expectInline(parseImageRef(`data:image/png;base64,\n${wrapped}\t`, 'images[0]'), PNG, 'image/png');
  });

  it('tolerates the base64url alphabet and missing padding', () => {
    const bytes = Buffer.concat([PNG_HEAD, Buffer.from([0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff, 0x01])]);
    const standard = bytes.toString('base64');
    expect(standard).toMatch(/\+/);
    expect(standard).toMatch(/\//);
    expect(standard).toMatch(/=$/);
    const url = bytes.toString('base64url');
    expect(url).not.toMatch(/[+/=]/);
    expectInline(parseImageRef(`data:image/png;base64,${url}`, 'images[0]'), bytes, 'image/png');
  });

  it('tolerates a percent-encoded payload', () => {
    const bytes = Buffer.concat([PNG_HEAD, Buffer.from([0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff])]);
    const encoded = encodeURIComponent(bytes.toString('base64'));
    expect(encoded).toContain('%2B');
    expectInline(parseImageRef(`data:image/png;base64,${encoded}`, 'images[0]'), bytes, 'image/png');
  });

  it.each([
    ['not base64-encoded', 'data:image/png,%89PNG%0D%0A'],
    ['without a comma', `data:image/png;base64${PNG.toString('base64')}`],
    ['with characters outside base64', 'data:image/png;base64,iVBOR*w0KGgo!!'],
    ['with padding in the middle', 'data:image/png;base64,iVBO=RwAA'],
    ['with an impossible length', 'data:image/png;base64,iVBORw0KG'],
    ['with broken percent-encoding', 'data:image/png;base64,iVBO%ZZ'],
    ['with an empty payload', 'data:image/png;base64,'],
    ['of a text file', `data:image/png;base64,${TEXT_FILE.toString('base64')}`],
    ['of a truncated PNG', `data:image/png;base64,${PNG.subarray(0, 16).toString('base64')}`],
  ])('rejects a data URL %s as BAD_INPUT', (_name, url) => {
    const error = domainErrorFrom(() => parseImageRef(url, 'images[2]'));
    expect(error.code).toBe(ErrorCode.BAD_INPUT);
    expect(error.details.field).toBe('images[2]');
    expect(error.message).toContain('images[2]');
  });

  it('accepts an image of exactly MAX_IMAGE_BYTES', () => {
    const ref = parseImageRef(`data:image/png;base64,${atLimitBase64}`, 'images[0]');
    expect(ref.kind === 'inline' && ref.bytes.length).toBe(MAX_IMAGE_BYTES);
  });

  it('refuses one byte more as PAYLOAD_TOO_LARGE without decoding it', () => {
    const decode = jest.spyOn(Buffer, 'from');
    try {
      const error = domainErrorFrom(() => parseImageRef(`data:image/png;base64,${overLimitBase64}`, 'images[7]'));
      expect(error.code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
      expect(error.details.field).toBe('images[7]');
      expect(error.message).toContain('10 MiB');
      expect(decode).not.toHaveBeenCalled();
    } finally {
      decode.mockRestore();
    }
  });
});

describe('parseImageRef: bare base64', () => {
  const bare = { allowBareBase64: true };

  it('is refused unless allowed', () => {
    const error = domainErrorFrom(() => parseImageRef(PNG.toString('base64'), 'images[0]'));
    expect(error.code).toBe(ErrorCode.BAD_INPUT);
    expect(error.message).toBe(`images[0] ${URL_MESSAGE}`);
  });

  it.each([
    ['PNG', PNG, 'image/png'],
    ['JPEG (base64 starting with "/", like a path)', JPEG, 'image/jpeg'],
    ['GIF', GIF, 'image/gif'],
    ['WebP', WEBP, 'image/webp'],
  ])('decodes a %s when allowed', (_name, bytes, mime) => {
    expectInline(parseImageRef(bytes.toString('base64'), 'images[0]', bare), bytes, mime);
  });

  it('does not mistake JPEG base64 for a path', () => {
    expect(JPEG.toString('base64')).toMatch(/^\/9j\//);
    const error = domainErrorFrom(() => parseImageRef(JPEG.toString('base64'), 'images[0]'));
    expect(error.message).toBe(`images[0] ${URL_MESSAGE}`);
  });

  it('tolerates line-wrapped base64, base64url and missing padding', () => {
    const wrapped = PNG.toString('base64').replace(/(.{76})/g, '$1\n');
    expectInline(parseImageRef(wrapped, 'images[0]', bare), PNG, 'image/png');
    expectInline(parseImageRef(GIF.toString('base64url'), 'images[0]', bare), GIF, 'image/gif');
  });

  it('still takes URLs and data URLs', () => {
    expect(parseImageRef(`/images/${ID}`, 'images[0]', bare)).toEqual({ kind: 'stored', id: ID });
    expectInline(parseImageRef(`data:;base64,${GIF.toString('base64')}`, 'images[0]', bare), GIF, 'image/gif');
  });

  it.each([
    ['base64 of a text file', TEXT_FILE.toString('base64')],
    ['base64 of fewer than 8 bytes', Buffer.from([0xff, 0xd8, 0xff, 0xe0]).toString('base64')],
    ['a word that happens to be base64', 'screenshot'],
    ['not base64', 'this is not base64!'],
    ['an empty string', ''],
    ['another URL', 'https://example.com/picture.png'],
    ['a truncated image', PNG.subarray(0, 20).toString('base64')],
  ])('rejects %s as BAD_INPUT', (_name, value) => {
    const error = domainErrorFrom(() => parseImageRef(value, 'images[1]', bare));
    expect(error.code).toBe(ErrorCode.BAD_INPUT);
    expect(error.details.field).toBe('images[1]');
    expect(error.message).toContain('images[1] must be an image URL returned by /uploads, a data: URL or base64');
  });

  it('refuses an oversized image as PAYLOAD_TOO_LARGE without decoding it whole', () => {
    const decode = jest.spyOn(Buffer, 'from');
    try {
      const error = domainErrorFrom(() => parseImageRef(overLimitBase64, 'images[0]', bare));
      expect(error.code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
      expect(error.details.field).toBe('images[0]');
      const decodedLengths = decode.mock.calls.map((call: unknown[]) => (typeof call[0] === 'string' ? call[0].length : 0));
      expect(Math.max(0, ...decodedLengths)).toBeLessThanOrEqual(48);
    } finally {
      decode.mockRestore();
    }
  });

  it('calls a huge string that does not start like an image BAD_INPUT, not PAYLOAD_TOO_LARGE', () => {
    const zeros = 'A'.repeat(64) + overLimitBase64.slice(64);
    expect(domainErrorFrom(() => parseImageRef(zeros, 'images[0]', bare)).code).toBe(ErrorCode.BAD_INPUT);
  });
});

describe('parseImageRef: wrong types', () => {
  it.each([
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['an object', { url: `/images/${ID}` }],
    ['an array', [`/images/${ID}`]],
    ['a Buffer', PNG],
  ])('%s → BAD_INPUT "must be a string"', (_name, value) => {
    const error = domainErrorFrom(() => parseImageRef(value, 'images[0]', { allowBareBase64: true }));
    expect(error.code).toBe(ErrorCode.BAD_INPUT);
    expect(error.details.field).toBe('images[0]');
    expect(error.message).toBe('images[0] must be a string');
  });
});

describe('parseImageRefs', () => {
  const stored = `/images/${ID}`;

  it('parses each element in order', () => {
    const refs = parseImageRefs([stored, `data:image/png;base64,${PNG.toString('base64')}`], 'images');
    expect(refs).toHaveLength(2);
    expect(refs[0]).toEqual({ kind: 'stored', id: ID });
    expectInline(refs[1], PNG, 'image/png');
  });

  it('accepts an empty list', () => {
    expect(parseImageRefs([], 'images')).toEqual([]);
  });

  it('passes the options on to each element', () => {
    expect(() => parseImageRefs([GIF.toString('base64')], 'images')).toThrow(DomainError);
    expectInline(parseImageRefs([GIF.toString('base64')], 'images', { allowBareBase64: true })[0], GIF, 'image/gif');
  });

  it.each([
    ['a string', stored],
    ['null', null],
    ['an object', { 0: stored, length: 1 }],
  ])('rejects %s as BAD_INPUT on the list field', (_name, value) => {
    const error = domainErrorFrom(() => parseImageRefs(value, 'images'));
    expect(error.code).toBe(ErrorCode.BAD_INPUT);
    expect(error.details.field).toBe('images');
  });

  it(`accepts ${MAX_IMAGES_PER_TICKET} images`, () => {
    expect(parseImageRefs(Array(MAX_IMAGES_PER_TICKET).fill(stored), 'images')).toHaveLength(MAX_IMAGES_PER_TICKET);
  });

  it(`refuses ${MAX_IMAGES_PER_TICKET + 1} as BAD_INPUT`, () => {
    const error = domainErrorFrom(() => parseImageRefs(Array(MAX_IMAGES_PER_TICKET + 1).fill(stored), 'images'));
    expect(error.code).toBe(ErrorCode.BAD_INPUT);
    expect(error.details.field).toBe('images');
    expect(error.message).toBe('at most 10 images per ticket');
  });

  it('counts before decoding: too many huge images is BAD_INPUT, not PAYLOAD_TOO_LARGE', () => {
    const huge = `data:image/png;base64,${overLimitBase64}`;
    const error = domainErrorFrom(() => parseImageRefs(Array(MAX_IMAGES_PER_TICKET + 1).fill(huge), 'images'));
    expect(error.code).toBe(ErrorCode.BAD_INPUT);
  });

  it('names the failing element in the message and details.field', () => {
    const bad = domainErrorFrom(() => parseImageRefs([stored, stored, 'https://example.com/cat.png'], 'images'));
    expect(bad.code).toBe(ErrorCode.BAD_INPUT);
    expect(bad.details.field).toBe('images[2]');
    expect(bad.message).toBe(`images[2] ${URL_MESSAGE}`);

    const notString = domainErrorFrom(() => parseImageRefs([stored, 7], 'input.images'));
    expect(notString.details.field).toBe('input.images[1]');
    expect(notString.message).toBe('input.images[1] must be a string');

    const tooBig = domainErrorFrom(() => parseImageRefs([`data:;base64,${overLimitBase64}`], 'images'));
    expect(tooBig.code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
    expect(tooBig.details.field).toBe('images[0]');
  });
});

describe('imageUrl', () => {
  it('joins the public base URL and the id', () => {
    expect(imageUrl('http://127.0.0.1:4000', ID)).toBe(`http://127.0.0.1:4000/images/${ID}`);
  });

  it('drops one trailing slash from the base', () => {
    expect(imageUrl('https://help.example.com/', ID)).toBe(`https://help.example.com/images/${ID}`);
  });

  it.each(['http://127.0.0.1:4000', 'https://help.example.com/', 'https://example.com/helpdesk'])('round-trips through parseImageRef (%s)', (base) => {
    expect(parseImageRef(imageUrl(base, ID), 'images[0]')).toEqual({ kind: 'stored', id: ID });
  });
});
