import { randomBytes } from 'node:crypto';

/**
 * UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit counter, then random bits.
 * Ids sort by creation time, so "newest first" is `ORDER BY id DESC` on an index that is also the
 * primary key, and keyset pagination needs nothing but the id. Within one process ids are strictly
 * increasing even when many are made in the same millisecond (the counter, RFC 9562 method 1),
 * so rows created in the same millisecond keep their creation order.
 */
let lastMs = 0;
let counter = 0;

/**
 * Random bytes drawn from the CSPRNG 4 KiB at a time and handed out in slices: one `randomBytes`
 * call per id (two when the millisecond changes) was ≈ 2% of the write path's CPU
 * (docs/performance.md, "Fourth round"); `crypto.randomUUID` pools its entropy the same way.
 * A slice is copied out and never handed out twice.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolOffset = 0;

function randomInto(target: Buffer): Buffer {
  if (poolOffset + target.length > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  pool.copy(target, 0, poolOffset, poolOffset + target.length);
  // Used bytes are overwritten, so nothing handed out stays in memory beside the pool's rest.
  pool.fill(0, poolOffset, poolOffset + target.length);
  poolOffset += target.length;
  return target;
}

export function uuidv7(now: number = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    counter = randomInto(Buffer.allocUnsafe(2)).readUInt16BE(0) & 0x01ff; // start low so the counter rarely overflows
  } else {
    counter += 1;
    if (counter > 0x0fff) {
      // 4,096 ids in one millisecond: borrow the next millisecond rather than lose monotonicity.
      lastMs += 1;
      counter = 0;
    }
  }
  const bytes = randomInto(Buffer.allocUnsafe(16));
  const ms = lastMs;
  bytes[0] = Math.floor(ms / 2 ** 40) & 0xff;
  bytes[1] = Math.floor(ms / 2 ** 32) & 0xff;
  bytes[2] = (ms >>> 24) & 0xff;
  bytes[3] = (ms >>> 16) & 0xff;
  bytes[4] = (ms >>> 8) & 0xff;
  bytes[5] = ms & 0xff;
  bytes[6] = 0x70 | ((counter >>> 8) & 0x0f);
  bytes[7] = counter & 0xff;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for any syntactically valid UUID (any version): ids from the outside are checked with this. */
export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID_PATTERN.test(value);
