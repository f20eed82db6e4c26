/**
 * Expectations on the seed document's response shapes, shared by the legacy suites: exact key
 * sets in the seed's order, integer ids and codes, millisecond dates, 0/1 flags.
 */

export const TICKET_KEYS = ['uuid', 'customer-id', 'scheduler-id', 'staff-id', 'content', 'images', 'reply', 'operating-history', 'status', 'permission'];
export const PERMISSION_KEYS = ['reply', 'ASSIGNED', 'FIXED', 'CLOSED', 'REOPENED', 'PENDING', 'CANCEL', 'IN PROCESSING'];

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Status codes of seed 2.1. */
export const CODE = { NEW: 1, ASSIGNED: 2, FIXED: 3, CLOSED: 4, REOPEN: 5, REQUEST_INFORMATION: 6, CANCEL: 7, IN_PROCESSING: 8 } as const;

/** A full permission object: the keys given are 1, every other key 0. */
export function permission(...granted: string[]): Record<string, 0 | 1> {
  for (const key of granted) if (!PERMISSION_KEYS.includes(key)) throw new Error(`no permission key ${key}`);
  return Object.fromEntries(PERMISSION_KEYS.map((key) => [key, granted.includes(key) ? 1 : 0])) as Record<string, 0 | 1>;
}

/** A plausible millisecond timestamp of this test run: an integer within the last hour. */
export function expectRecentMs(value: unknown): void {
  expect(Number.isInteger(value)).toBe(true);
  expect(value as number).toBeGreaterThan(Date.now() - 3_600_000);
  expect(value as number).toBeLessThanOrEqual(Date.now() + 1000);
}

/** Checks every field of a legacy ticket's shape (not its values). */
export function expectTicketShape(ticket: any): void {
  expect(Object.keys(ticket)).toEqual(TICKET_KEYS);
  expect(ticket.uuid).toMatch(UUID);
  expect(Number.isInteger(ticket['customer-id'])).toBe(true);
  for (const key of ['scheduler-id', 'staff-id']) {
    expect(ticket[key] === null || Number.isInteger(ticket[key])).toBe(true);
  }
  expect(typeof ticket.content).toBe('string');
  expect(Array.isArray(ticket.images)).toBe(true);
  for (const url of ticket.images) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/images\/[0-9a-f-]{36}$/);
  for (const reply of ticket.reply) {
    expect(Object.keys(reply)).toEqual(['uuid', 'date', 'userid', 'content']);
    expect(reply.uuid).toMatch(UUID);
    expectRecentMs(reply.date);
    expect(Number.isInteger(reply.userid)).toBe(true);
    expect(typeof reply.content).toBe('string');
  }
  for (const entry of ticket['operating-history']) {
    expect(Object.keys(entry)).toEqual(['uuid', 'date', 'userid', 'status']);
    expect(entry.uuid).toMatch(UUID);
    expectRecentMs(entry.date);
    expect(Number.isInteger(entry.userid)).toBe(true);
    expect(Object.values(CODE)).toContain(entry.status);
  }
  expect(Object.values(CODE)).toContain(ticket.status);
  expect(Object.keys(ticket.permission)).toEqual(PERMISSION_KEYS);
  for (const flag of Object.values(ticket.permission)) expect([0, 1]).toContain(flag);
  // Oldest first.
  const dates = (list: Array<{ date: number }>) => list.map((item) => item.date);
  expect(dates(ticket.reply)).toEqual([...dates(ticket.reply)].sort((a, b) => a - b));
  expect(dates(ticket['operating-history'])).toEqual([...dates(ticket['operating-history'])].sort((a, b) => a - b));
}

/** Checks an error answer: `{code, message}` only, code equal to the HTTP status. */
export function expectError(response: { status: number; body: any }, status: number, message?: string | RegExp): void {
  expect({ status: response.status, body: response.body }).toEqual({ status, body: { code: status, message: expect.any(String) } });
  if (typeof message === 'string') expect(response.body.message).toBe(message);
  else if (message) expect(response.body.message).toMatch(message);
}
