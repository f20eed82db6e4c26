import { MemoryBudgetStore } from './budget-store';

describe('MemoryBudgetStore', () => {
  it('takes what fits, refuses what does not without taking it, and starts afresh when the window ends', async () => {
    const store = new MemoryBudgetStore();
    expect(await store.take('k', 6, 10, 1_000, 0)).toEqual({ admitted: true, used: 6, resetAt: 1_000 });
    expect(await store.take('k', 5, 10, 1_000, 10)).toEqual({ admitted: false, used: 6, resetAt: 1_000 });
    expect(await store.take('k', 4, 10, 1_000, 999)).toEqual({ admitted: true, used: 10, resetAt: 1_000 });
    expect(await store.take('k', 1, 10, 1_000, 1_000)).toEqual({ admitted: true, used: 1, resetAt: 2_000 });
  });

  it('holds at most maxEntries keys, the least recently used dropped first', async () => {
    const store = new MemoryBudgetStore(2);
    await store.take('a', 1, 10, 1_000, 0);
    await store.take('b', 1, 10, 1_000, 0);
    await store.take('a', 1, 10, 1_000, 1);
    await store.take('c', 1, 10, 1_000, 2);
    expect(store.size).toBe(2);
    // `b` was dropped, `a` (used more recently) kept its two points.
    expect((await store.take('a', 1, 10, 1_000, 3)).used).toBe(3);
    expect((await store.take('b', 1, 10, 1_000, 4)).used).toBe(1);
  });

  it('refuses a cost outside 1..limit (the limiter clamps before it asks)', async () => {
    const store = new MemoryBudgetStore();
    await expect(store.take('k', 0, 10, 1_000, 0)).rejects.toThrow(RangeError);
    await expect(store.take('k', 11, 10, 1_000, 0)).rejects.toThrow(RangeError);
  });
});
