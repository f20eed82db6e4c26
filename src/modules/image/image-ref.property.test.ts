import fc from 'fast-check';
import { DomainError, ErrorCode } from '../../shared/errors';
import { imageUrl, parseImageRef, parseImageRefs, type ImageRef } from './image-ref';
import { sniffImageType } from './image-type';
import { MAX_IMAGES_PER_TICKET } from './image.limits';

/**
 * Property tests of the image reference reader: whatever a client puts where an image goes, the
 * answer is an image reference or a DomainError BAD_INPUT / PAYLOAD_TOO_LARGE naming the field,
 * never another exception; a stored image's URL always reads back as its id; inline bytes are
 * accepted only when they sniff as an image, and come back byte for byte.
 */

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const WEBP = Buffer.from('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==', 'base64');
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xd9]);
const IMAGES = [PNG, GIF, WEBP, JPEG];

type Outcome = { ok: true; ref: ImageRef } | { ok: false; error: unknown };

function parse(value: unknown, field: string, allowBareBase64: boolean): Outcome {
  try {
    return { ok: true, ref: parseImageRef(value, field, { allowBareBase64 }) };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The only refusals allowed: BAD_INPUT or PAYLOAD_TOO_LARGE, naming the field (or an element of it). */
const isImageRefusal = (error: unknown, field: string): boolean =>
  error instanceof DomainError &&
  (error.code === ErrorCode.BAD_INPUT || error.code === ErrorCode.PAYLOAD_TOO_LARGE) &&
  typeof error.details.field === 'string' &&
  error.details.field.startsWith(field) &&
  error.message.includes(field.replace(/\[\d+\]$/, ''));

const UUID_LIKE = fc.uuid({ version: [1, 4, 7] });

/** Bytes that are an image, an image's prefix, an image with junk after it, or junk. */
const someBytes = fc.oneof(
  fc.constantFrom(...IMAGES),
  fc.tuple(fc.constantFrom(...IMAGES), fc.nat()).map(([image, cut]) => image.subarray(0, cut % (image.length + 1))),
  fc.tuple(fc.constantFrom(...IMAGES), fc.uint8Array({ maxLength: 64 })).map(([image, tail]) => Buffer.concat([image, tail])),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
);

/** base64 with the slips clients make: url alphabet, no padding, line breaks, percent-encoding. */
const sloppyBase64 = fc
  .tuple(someBytes, fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 80 }), fc.boolean())
  .map(([bytes, urlAlphabet, unpadded, wrapAt, percent]) => {
    let text = Buffer.from(bytes).toString(urlAlphabet ? 'base64url' : 'base64');
    if (unpadded) text = text.replace(/=+$/, '');
    if (wrapAt > 0) text = (text.match(new RegExp(`.{1,${wrapAt}}`, 'g')) ?? []).join('\r\n');
    if (percent) text = text.replace(/[+/=]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
    return text;
  });

const mediaType = fc.constantFrom('', 'image/png', 'image/jpeg', 'text/html', 'application/octet-stream', 'IMAGE/GIF');
const dataUrl = fc
  .tuple(
    fc.constantFrom('data:', 'DATA:', ' data:', 'data:  '),
    mediaType,
    fc.constantFrom(';base64', ';BASE64', ';charset=utf-8;base64', '', ';base64;x=y'),
    fc.oneof(sloppyBase64, fc.string({ maxLength: 40 })),
  )
  .map(([scheme, type, parameters, payload]) => `${scheme}${type}${parameters},${payload}`);

/** URLs near the stored-image form: right and wrong hosts, paths, ids, extensions, queries. */
const urlLike = fc
  .tuple(
    fc.constantFrom('http://', 'https://', 'HTTPS://', 'ftp://', 'javascript:', '//', '/', '', 'http://[::1', 'http://a b/'),
    fc.constantFrom('127.0.0.1:4000', 'example.com', 'user:pass@host', 'xn--nxasmq6b.com', '', '%00'),
    fc.constantFrom('/images/', '/img/', '/images//', '/prefix/images/', '/images/../images/', '/IMAGES/'),
    fc.oneof(
      UUID_LIKE,
      UUID_LIKE.map((id) => id.toUpperCase()),
      fc.string({ maxLength: 40 }),
      fc.constantFrom('..', '%2e%2e', ''),
    ),
    fc.constantFrom('', '.png', '.jpeg', '.toolongextension', '.p-g', '/'),
    fc.constantFrom('', '?download=1', '#frag', '?a=/images/x', '%'),
  )
  .map((parts) => parts.join(''));

const anyImageInput = fc.oneof(
  fc.anything({ withBigInt: true, withNullPrototype: true, withBoxedValues: true }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  sloppyBase64,
  dataUrl,
  urlLike,
);

describe('parseImageRef (properties)', () => {
  it('answers an image reference or BAD_INPUT / PAYLOAD_TOO_LARGE naming the field, whatever the value', () => {
    fc.assert(
      fc.property(anyImageInput, fc.boolean(), fc.nat(20), (value, bare, index) => {
        const field = `images[${index}]`;
        const outcome = parse(value, field, bare);
        if (!outcome.ok) return isImageRefusal(outcome.error, field);
        const { ref } = outcome;
        // Whatever is accepted is a well-formed stored id or bytes that sniff as the stated type.
        return ref.kind === 'stored' ? /^[0-9a-f-]{36}$/.test(ref.id) : sniffImageType(ref.bytes) === ref.mime;
      }),
      { numRuns: 10_000 },
    );
  });

  it('reads any stored image URL back as its id, whatever the base URL, case, extension or query', () => {
    fc.assert(
      fc.property(
        fc.webUrl({ withQueryParameters: false, withFragments: false }),
        UUID_LIKE,
        fc.boolean(),
        fc.constantFrom('', '.png', '.JPG', '.webp'),
        fc.constantFrom('', '?v=2', '#top', '?download=1#x'),
        (base, id, upper, extension, suffix) => {
          const url = imageUrl(base, upper ? id.toUpperCase() : id) + extension + suffix;
          const outcome = parse(url, 'images[0]', false);
          return outcome.ok && outcome.ref.kind === 'stored' && outcome.ref.id === id.toLowerCase();
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('accepts inline bytes exactly when they sniff as an image, and returns them byte for byte', () => {
    fc.assert(
      fc.property(someBytes, mediaType, fc.boolean(), (bytes, type, bare) => {
        const buffer = Buffer.from(bytes);
        const mime = sniffImageType(buffer);
        const outcome = parse(`data:${type};base64,${buffer.toString('base64')}`, 'images[0]', bare);
        if (mime === null) return !outcome.ok && isImageRefusal(outcome.error, 'images[0]') && (outcome.error as DomainError).code === ErrorCode.BAD_INPUT;
        return outcome.ok && outcome.ref.kind === 'inline' && outcome.ref.mime === mime && outcome.ref.bytes.equals(buffer);
      }),
      { numRuns: 5000 },
    );
  });

  it('never takes bare base64 for an image unless allowed (GraphQL takes URLs only)', () => {
    fc.assert(
      fc.property(sloppyBase64, (text) => {
        fc.pre(!/^\s*data:/i.test(text) && !text.trim().startsWith('/'));
        const outcome = parse(text, 'images[0]', false);
        return !outcome.ok && isImageRefusal(outcome.error, 'images[0]');
      }),
      { numRuns: 3000 },
    );
  });
});

describe('parseImageRefs (properties)', () => {
  it('answers references in order or a refusal naming the list or one element, whatever the value', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything({ maxDepth: 2 }), fc.array(anyImageInput, { maxLength: MAX_IMAGES_PER_TICKET + 3 })), fc.boolean(), (value, bare) => {
        try {
          const refs = parseImageRefs(value, 'images', { allowBareBase64: bare });
          return Array.isArray(value) && refs.length === value.length && refs.length <= MAX_IMAGES_PER_TICKET;
        } catch (error) {
          return isImageRefusal(error, 'images');
        }
      }),
      { numRuns: 3000 },
    );
  });

  it(`refuses more than ${MAX_IMAGES_PER_TICKET} references as BAD_INPUT before reading any`, () => {
    fc.assert(
      fc.property(fc.array(fc.anything(), { minLength: MAX_IMAGES_PER_TICKET + 1, maxLength: 40 }), (value) => {
        try {
          parseImageRefs(value, 'images');
          return false;
        } catch (error) {
          return error instanceof DomainError && error.code === ErrorCode.BAD_INPUT && error.details.field === 'images';
        }
      }),
      { numRuns: 500 },
    );
  });
});
