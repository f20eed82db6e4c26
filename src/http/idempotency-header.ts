import type { IdempotencyKeyHeader } from '../modules/ticket/idempotency';

/**
 * Every value of the `Idempotency-Key` header in a request's raw header list. Node joins repeated
 * headers into one string ("a, b"), which would read as one key; the raw list keeps them apart so
 * a repeated header can be refused.
 */
export function idempotencyKeyHeader(rawHeaders: readonly string[]): IdempotencyKeyHeader {
  const values: string[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    if ((rawHeaders[index] as string).toLowerCase() === 'idempotency-key') values.push(rawHeaders[index + 1] as string);
  }
  if (values.length === 0) return undefined;
  return values.length === 1 ? values[0] : values;
}
