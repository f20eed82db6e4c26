import { badInput, DomainError, ErrorCode } from '../../shared/errors';
import { MAX_IMAGE_BYTES } from './image.limits';

/** The image formats the system stores and serves (docs/contract.md "Limits"). */
export type ImageMime = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp';

/** `10 MiB`, spelled from the limit so messages cannot drift from the number enforced. */
export const MAX_IMAGE_SIZE_LABEL = `${MAX_IMAGE_BYTES / (1024 * 1024)} MiB`;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;

const startsWith = (bytes: Uint8Array, expected: readonly number[], offset = 0): boolean =>
  bytes.length >= offset + expected.length && expected.every((byte, i) => bytes[offset + i] === byte);

const ascii = (text: string): number[] => Array.from(text, (char) => char.charCodeAt(0));

const IHDR = ascii('IHDR');
const GIF87A = ascii('GIF87a');
const GIF89A = ascii('GIF89a');
const RIFF = ascii('RIFF');
const WEBP = ascii('WEBP');
const WEBP_FIRST_CHUNKS = [ascii('VP8 '), ascii('VP8L'), ascii('VP8X')];

/**
 * The image format of `bytes`, decided by magic bytes alone, or `null` when they are not one of
 * the accepted formats. A declared content type or file name is never consulted: clients (and
 * attackers) choose those freely, and the bytes are what browsers will later sniff and render.
 *
 * Beyond the bare signature each format must carry its first structure (PNG's complete IHDR
 * chunk, a JPEG marker, GIF's logical screen descriptor, WebP's first VP8* chunk header), so a
 * file truncated right after its magic number is not mistaken for an image.
 */
export function sniffImageType(bytes: Uint8Array): ImageMime | null {
  // PNG: signature, then IHDR always first, always 13 bytes of data: 8 + 4 + 4 + 13 + 4 (CRC).
  if (startsWith(bytes, PNG_SIGNATURE)) {
    const ihdrLength = ((bytes[8] << 24) | (bytes[9] << 16) | (bytes[10] << 8) | bytes[11]) >>> 0;
    return bytes.length >= 33 && ihdrLength === 13 && startsWith(bytes, IHDR, 12) ? 'image/png' : null;
  }
  // JPEG: SOI (FF D8), then the first segment's marker FF xx with xx a marker code (C0..FF).
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) {
    return bytes.length >= 4 && bytes[3] >= 0xc0 ? 'image/jpeg' : null;
  }
  // GIF: 6-byte header plus the 7-byte logical screen descriptor.
  if (startsWith(bytes, GIF87A) || startsWith(bytes, GIF89A)) {
    return bytes.length >= 13 ? 'image/gif' : null;
  }
  // WebP: RIFF <size> WEBP, then a VP8/VP8L/VP8X chunk header (fourcc + 4-byte size).
  if (startsWith(bytes, RIFF) && startsWith(bytes, WEBP, 8)) {
    const chunkOk = WEBP_FIRST_CHUNKS.some((fourcc) => startsWith(bytes, fourcc, 12));
    return chunkOk && bytes.length >= 20 ? 'image/webp' : null;
  }
  return null;
}

/**
 * Checks that `bytes` is an acceptable image and returns its type.
 *
 * @param field - the input field the bytes came from (`images[0]`, a multipart part name); it is
 *   named in the message and in `details.field`.
 * @throws DomainError PAYLOAD_TOO_LARGE when larger than {@link MAX_IMAGE_BYTES}; checked first
 *   because an oversized body is a 413 whatever it contains.
 * @throws DomainError BAD_INPUT when empty or not a PNG, JPEG, GIF or WebP image.
 */
export function assertImage(bytes: Uint8Array, field: string): ImageMime {
  if (bytes.length > MAX_IMAGE_BYTES) {
    throw imageTooLarge(field);
  }
  if (bytes.length === 0) {
    throw badInput(field, `${field}: empty, not a PNG, JPEG, GIF or WebP image`);
  }
  const mime = sniffImageType(bytes);
  if (mime === null) {
    throw badInput(field, `${field}: not a PNG, JPEG, GIF or WebP image`);
  }
  return mime;
}

/** The PAYLOAD_TOO_LARGE error for an image over the limit, shared so every path says the same. */
export const imageTooLarge = (field: string): DomainError =>
  new DomainError(ErrorCode.PAYLOAD_TOO_LARGE, `${field}: image larger than ${MAX_IMAGE_SIZE_LABEL}`, { field });
