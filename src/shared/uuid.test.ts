import { isUuid, uuidv7 } from './uuid';

describe('uuidv7', () => {
  it('sets version 7 and the RFC 9562 variant, and the time in the first 48 bits', () => {
    const now = Date.UTC(2030, 0, 2, 3, 4, 5, 6);
    const id = uuidv7(now);
    expect(isUuid(id)).toBe(true);
    expect(id[14]).toBe('7');
    expect('89ab').toContain(id[19]);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(now);
  });

  it('increases strictly within one millisecond and keeps random bits distinct across pool refills', () => {
    const now = Date.UTC(2031, 0, 1);
    // 1,000 ids draw 16 KB of random bytes, four refills of the 4 KiB pool.
    const ids = Array.from({ length: 1_000 }, () => uuidv7(now));
    expect([...ids].sort()).toEqual(ids);
    const tails = ids.map((id) => id.replace(/-/g, '').slice(16));
    expect(new Set(tails).size).toBe(ids.length);
    // No all-zero tail: a slice handed out after being cleared would show up here.
    expect(tails.filter((tail) => /^[89ab]0{15}$/.test(tail))).toEqual([]);
  });
});
