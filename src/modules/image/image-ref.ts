import { badInput } from '../../shared/errors';
import { isUuid } from '../../shared/uuid';
import { assertImage, ImageMime, imageTooLarge, sniffImageType } from './image-type';
import { MAX_IMAGE_BYTES, MAX_IMAGES_PER_TICKET } from './image.limits';

/**
 * How a client refers to an image in `createTicket`/`editTicket` and in legacy JSON: either an
 * image already stored (by `/uploads` or an earlier ticket), or image bytes sent inline.
 */
export type ImageRef = { kind: 'stored'; id: string } | { kind: 'inline'; bytes: Buffer; mime: ImageMime };

/** Options for {@link parseImageRef} and {@link parseImageRefs}. */
export interface ImageRefOptions {
  /**
   * Accept a plain base64 string (no `data:` prefix) as inline image bytes. Only the legacy
   * endpoint sets this: its clients send images that way, while GraphQL's contract is URLs only.
   */
  allowBareBase64?: boolean;
}

/*
 * `/images/<uuid>` with an optional file extension. Any prefix before `/images/` is allowed so
 * that URLs built from a PUBLIC_URL carrying a base path (behind a reverse proxy) round-trip.
 */
const STORED_IMAGE_PATH = /\/images\/([^/.]+)(?:\.[A-Za-z0-9]{1,10})?$/;

// Base for resolving path-only references; never contacted, only parsed.
const RELATIVE_BASE = 'http://relative.invalid';

// A base64 prefix long enough for `sniffImageType` to decide (48 chars = 36 bytes >= PNG's 33).
const SNIFF_PREFIX_CHARS = 48;

// Below this many bytes no string is taken for bare base64: short words decode to a few bytes.
const MIN_BARE_BASE64_BYTES = 8;

/**
 * Parses one image reference.
 *
 * Accepted forms:
 * - an absolute http(s) URL (any host) or a path whose path ends in `/images/<uuid>`, optionally
 *   with a file extension; query and fragment are ignored. Yields `stored` with the lower-cased id.
 * - a `data:` URL with base64 payload (media type optional and ignored, whitespace,
 *   percent-encoding and the base64url alphabet tolerated). Yields `inline`; the bytes decide the
 *   type.
 * - with `allowBareBase64`, plain base64 of at least 8 bytes that sniff as an image.
 *
 * Encoded length is checked before decoding, so an oversized string is refused without
 * allocating its bytes.
 *
 * @param field - the input field, named in messages and `details.field` (`images[2]`).
 * @throws DomainError BAD_INPUT for non-strings, other URLs, malformed data URLs, non-images.
 * @throws DomainError PAYLOAD_TOO_LARGE when the image would exceed {@link MAX_IMAGE_BYTES}.
 */
export function parseImageRef(value: unknown, field: string, options: ImageRefOptions = {}): ImageRef {
  if (typeof value !== 'string') {
    throw badInput(field, `${field} must be a string`);
  }
  const text = value.trim();
  if (/^data:/i.test(text)) {
    return parseDataUrl(text, field);
  }
  const id = storedImageId(text);
  if (id !== null) {
    return { kind: 'stored', id };
  }
  if (options.allowBareBase64) {
    const inline = parseBareBase64(text, field);
    if (inline !== null) {
      return inline;
    }
    throw badInput(field, `${field} must be an image URL returned by /uploads, a data: URL or base64 of a PNG, JPEG, GIF or WebP image`);
  }
  throw badInput(field, `${field} must be an image URL returned by /uploads or a data: URL`);
}

/**
 * Parses a ticket's image list: an array of at most {@link MAX_IMAGES_PER_TICKET} references,
 * each parsed by {@link parseImageRef} under the field name `${field}[i]`.
 *
 * The count is checked before any element, so eleven huge inline images are refused without
 * decoding one.
 *
 * @throws DomainError BAD_INPUT when not an array or too long; whatever an element throws.
 */
export function parseImageRefs(value: unknown, field: string, options: ImageRefOptions = {}): ImageRef[] {
  if (!Array.isArray(value)) {
    throw badInput(field, `${field} must be an array`);
  }
  if (value.length > MAX_IMAGES_PER_TICKET) {
    throw badInput(field, `at most ${MAX_IMAGES_PER_TICKET} images per ticket`);
  }
  return value.map((element, index) => parseImageRef(element, `${field}[${index}]`, options));
}

/**
 * The absolute URL a stored image is served at: `${publicBaseUrl}/images/${id}`. One trailing
 * slash on the base is dropped so `PUBLIC_URL=http://host/` does not yield `//images`.
 */
export function imageUrl(publicBaseUrl: string, id: string): string {
  const base = publicBaseUrl.endsWith('/') ? publicBaseUrl.slice(0, -1) : publicBaseUrl;
  return `${base}/images/${id}`;
}

function storedImageId(text: string): string | null {
  let url: URL;
  try {
    if (/^https?:\/\//i.test(text)) {
      url = new URL(text);
    } else if (text.startsWith('/')) {
      url = new URL(text, RELATIVE_BASE);
    } else {
      return null;
    }
  } catch {
    return null;
  }
  const match = STORED_IMAGE_PATH.exec(url.pathname);
  return match !== null && isUuid(match[1]) ? match[1].toLowerCase() : null;
}

function parseDataUrl(text: string, field: string): ImageRef {
  const comma = text.indexOf(',');
  if (comma < 0) {
    throw badInput(field, `${field} is not a valid data: URL`);
  }
  const parameters = text
    .slice('data:'.length, comma)
    .split(';')
    .map((parameter) => parameter.trim().toLowerCase());
  if (!parameters.includes('base64')) {
    throw badInput(field, `${field}: data: URL must be base64-encoded (data:image/png;base64,...)`);
  }
  const base64 = normalizeBase64(percentDecode(text.slice(comma + 1)));
  if (base64 === null) {
    throw badInput(field, `${field}: data: URL payload is not valid base64`);
  }
  return decodeInline(base64, field);
}

function parseBareBase64(text: string, field: string): ImageRef | null {
  const base64 = normalizeBase64(text);
  if (base64 === null || decodedLength(base64) < MIN_BARE_BASE64_BYTES) {
    return null;
  }
  // Sniff a prefix first: a bare string is only taken for an image when it starts like one, so a
  // huge non-image string is a 400 for what it is rather than a 413.
  if (sniffImageType(Buffer.from(base64.slice(0, SNIFF_PREFIX_CHARS), 'base64')) === null) {
    return null;
  }
  return decodeInline(base64, field);
}

function decodeInline(base64: string, field: string): ImageRef {
  if (decodedLength(base64) > MAX_IMAGE_BYTES) {
    throw imageTooLarge(field);
  }
  const bytes = Buffer.from(base64, 'base64');
  return { kind: 'inline', bytes, mime: assertImage(bytes, field) };
}

/** Data URLs may percent-encode their payload; base64 never contains `%` otherwise. */
function percentDecode(text: string): string | null {
  if (!text.includes('%')) {
    return text;
  }
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

/**
 * Unpadded standard-alphabet base64, or `null` when `text` is not base64. Validated here because
 * `Buffer.from(_, 'base64')` silently skips invalid characters and would accept garbage.
 * Whitespace (line-wrapped MIME base64) and the base64url alphabet are tolerated.
 */
function normalizeBase64(text: string | null): string | null {
  if (text === null) {
    return null;
  }
  const compact = text.replace(/\s+/g, '').replace(/={1,2}$/, '');
  if (!/^[A-Za-z0-9+/_-]*$/.test(compact) || compact.length % 4 === 1) {
    return null;
  }
  return compact.replace(/-/g, '+').replace(/_/g, '/');
}

/** Bytes that unpadded base64 of this length decodes to. */
const decodedLength = (base64: string): number => Math.floor((base64.length * 3) / 4);
