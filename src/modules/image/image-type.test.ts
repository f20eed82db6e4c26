import { DomainError, ErrorCode, isDomainError } from '../../shared/errors';
import { assertImage, ImageMime, sniffImageType } from './image-type';
import { MAX_IMAGE_BYTES } from './image.limits';

const bytes = (...parts: Array<string | number[] | Uint8Array>): Buffer =>
  Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))));
const u32be = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const u32le = (n: number): number[] => u32be(n).reverse();

/** Signature + a complete 1x1 IHDR chunk (CRC not checked by the sniffer). */
const pngHeader = (): Buffer => bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], u32be(13), 'IHDR', u32be(1), u32be(1), [8, 6, 0, 0, 0], [0, 0, 0, 0]);
/** SOI, an APP0/JFIF segment, EOI. */
const jpegHeader = (): Buffer => bytes([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10], 'JFIF\0', [1, 1, 0, 0, 1, 0, 1, 0, 0], [0xff, 0xd9]);
/** Header and logical screen descriptor of a 1x1 GIF, then the trailer. */
const gifHeader = (version: '87a' | '89a'): Buffer => bytes(`GIF${version}`, [1, 0, 1, 0, 0, 0, 0], ';');
const webpHeader = (fourcc: 'VP8 ' | 'VP8L' | 'VP8X'): Buffer => bytes('RIFF', u32le(4 + 8 + 10), 'WEBP', fourcc, u32le(10), Array(10).fill(0));

// Whole 1x1 files as real encoders write them (checked with `file`).
const REAL_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
const REAL_GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const REAL_WEBP = Buffer.from('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==', 'base64');

const VALID: Array<[string, Buffer, ImageMime]> = [
  ['PNG header', pngHeader(), 'image/png'],
  ['real 1x1 PNG', REAL_PNG, 'image/png'],
  ['JPEG/JFIF header', jpegHeader(), 'image/jpeg'],
  ['JPEG/Exif header', bytes([0xff, 0xd8, 0xff, 0xe1, 0x00, 0x08], 'Exif\0\0'), 'image/jpeg'],
  ['JPEG starting with a quantisation table', bytes([0xff, 0xd8, 0xff, 0xdb, 0x00, 0x43]), 'image/jpeg'],
  ['GIF87a', gifHeader('87a'), 'image/gif'],
  ['GIF89a', gifHeader('89a'), 'image/gif'],
  ['real 1x1 GIF', REAL_GIF, 'image/gif'],
  ['WebP lossy (VP8)', webpHeader('VP8 '), 'image/webp'],
  ['WebP lossless (VP8L)', webpHeader('VP8L'), 'image/webp'],
  ['WebP extended (VP8X)', webpHeader('VP8X'), 'image/webp'],
  ['real 1x1 WebP', REAL_WEBP, 'image/webp'],
];

const NOT_IMAGES: Array<[string, Uint8Array]> = [
  ['empty', new Uint8Array(0)],
  ['PNG signature only', pngHeader().subarray(0, 8)],
  ['PNG cut inside IHDR', pngHeader().subarray(0, 20)],
  ['PNG cut before the IHDR CRC', pngHeader().subarray(0, 32)],
  ['PNG whose first chunk is not IHDR', bytes(pngHeader().subarray(0, 12), 'IDAT', pngHeader().subarray(16))],
  ['PNG with a wrong IHDR length', bytes(pngHeader().subarray(0, 8), u32be(14), pngHeader().subarray(12))],
  ['JPEG SOI only', bytes([0xff, 0xd8])],
  ['JPEG SOI and a lone FF', bytes([0xff, 0xd8, 0xff])],
  ['JPEG SOI followed by a non-marker', bytes([0xff, 0xd8, 0xff, 0x00, 0x00])],
  ['GIF header without screen descriptor', bytes('GIF89a')],
  ['GIF with an unknown version', bytes('GIF90a', [1, 0, 1, 0, 0, 0, 0])],
  ['WebP without its first chunk', webpHeader('VP8 ').subarray(0, 12)],
  ['WebP cut inside the chunk header', webpHeader('VP8L').subarray(0, 19)],
  ['RIFF WebP with an unknown chunk', bytes('RIFF', u32le(22), 'WEBP', 'ABCD', u32le(10), Array(10).fill(0))],
  ['RIFF WAVE audio', bytes('RIFF', u32le(36), 'WAVE', 'fmt ', u32le(16), Array(16).fill(0))],
  ['BMP', bytes('BM', Array(52).fill(0))],
  ['PDF', bytes('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n')],
  ['SVG (script-capable, never an accepted image)', bytes('<svg xmlns="http://www.w3.org/2000/svg"></svg>')],
  ['HTML', bytes('<!doctype html><html><body>hi</body></html>')],
  ['text file', bytes('just some notes, saved as photo.png\n')],
  ['garbage', bytes([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09])],
  ['zeros', new Uint8Array(64)],
  ['PNG signature not at the start', bytes([0x00], pngHeader())],
];

/** Runs `fn`, expecting a DomainError; returns it for further checks. */
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

// One allocation for every size test: slices of it share memory.
const oversized = Buffer.alloc(MAX_IMAGE_BYTES + 1);
pngHeader().copy(oversized);

describe('sniffImageType', () => {
  it.each(VALID)('recognises %s', (_name, image, mime) => {
    expect(sniffImageType(image)).toBe(mime);
  });

  it.each(NOT_IMAGES)('rejects %s', (_name, data) => {
    expect(sniffImageType(data)).toBeNull();
  });

  it('accepts a plain Uint8Array, not only a Buffer', () => {
    expect(sniffImageType(new Uint8Array(REAL_PNG))).toBe('image/png');
  });

  it('looks only at the leading bytes, whatever follows', () => {
    expect(sniffImageType(bytes(jpegHeader(), 'trailing text that is not image data'))).toBe('image/jpeg');
  });
});

describe('assertImage', () => {
  it.each(VALID)('returns the type of %s', (_name, image, mime) => {
    expect(assertImage(image, 'images[0]')).toBe(mime);
  });

  it.each(NOT_IMAGES)('rejects %s as BAD_INPUT naming the field', (_name, data) => {
    const error = domainErrorFrom(() => assertImage(data, 'images[3]'));
    expect(error.code).toBe(ErrorCode.BAD_INPUT);
    expect(error.details.field).toBe('images[3]');
    expect(error.message).toContain('images[3]');
    expect(error.message).toContain('not a PNG, JPEG, GIF or WebP image');
  });

  it('says so when the input is empty', () => {
    const error = domainErrorFrom(() => assertImage(Buffer.alloc(0), 'file'));
    expect(error.code).toBe(ErrorCode.BAD_INPUT);
    expect(error.message).toMatch(/empty/);
  });

  it('rejects a text file renamed to .png: the declared name or type is never consulted', () => {
    const error = domainErrorFrom(() => assertImage(Buffer.from('hello, I am photo.png'), 'photo.png'));
    expect(error.code).toBe(ErrorCode.BAD_INPUT);
    expect(error.details.field).toBe('photo.png');
  });

  it('accepts an image of exactly MAX_IMAGE_BYTES', () => {
    const atLimit = oversized.subarray(0, MAX_IMAGE_BYTES);
    expect(atLimit.length).toBe(MAX_IMAGE_BYTES);
    expect(assertImage(atLimit, 'images[0]')).toBe('image/png');
  });

  it('refuses one byte more as PAYLOAD_TOO_LARGE naming the field and the limit', () => {
    const error = domainErrorFrom(() => assertImage(oversized, 'images[1]'));
    expect(error.code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
    expect(error.details.field).toBe('images[1]');
    expect(error.message).toContain('images[1]');
    expect(error.message).toContain('10 MiB');
  });

  it('reports the size before the content: an oversized non-image is still a 413', () => {
    oversized[0] = 0x00; // break the PNG signature in place rather than allocate another 10 MiB
    try {
      expect(sniffImageType(oversized)).toBeNull();
      expect(domainErrorFrom(() => assertImage(oversized, 'images[0]')).code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
    } finally {
      oversized[0] = 0x89;
    }
  });
});
