import { idempotencyKeyHeader } from './idempotency-header';

describe('idempotencyKeyHeader', () => {
  it('finds the header by any case, keeps repeats apart, and is undefined when absent', () => {
    expect(idempotencyKeyHeader(['Host', 'x', 'Content-Type', 'a/b'])).toBeUndefined();
    expect(idempotencyKeyHeader(['IDEMPOTENCY-KEY', 'abc'])).toBe('abc');
    expect(idempotencyKeyHeader(['idempotency-key', 'a', 'Host', 'x', 'Idempotency-Key', 'b'])).toEqual(['a', 'b']);
  });
});
