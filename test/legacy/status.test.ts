import { DATABASES, startServer, type TestServer } from '../support/server';
import { legacyOk } from '../support/legacy-client';
import { CODE } from '../support/legacy-shapes';

type Code = (typeof CODE)[keyof typeof CODE];

/**
 * The forgiving status parser, through the endpoint (docs/contract.md "Statuses"): any case; spaces, `_` and
 * `-` alike; the aliases REOPENED, PENDING, CANCELLED/CANCELED, PROCESSING; codes as numbers or
 * strings; in lists "ALL", 0 or no status at all for every status. Output is always the code.
 */
describe.each(DATABASES)('legacy status spellings (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server?.close());

  const edit = (who: keyof TestServer['users'], uuid: string, status: unknown, extra: Record<string, unknown> = {}) =>
    legacyOk(server, server.users[who], 'edit-ticket', { uuid, status, ...extra });

  /** A fresh ticket of `owner`, moved to `state` along the canonical path. */
  async function ticketIn(state: Code, owner: 'customer' | 'otherCustomer' = 'customer'): Promise<string> {
    const { uuid } = await legacyOk(server, server.users[owner], 'create-ticket', { content: `in ${state}` });
    if (state === CODE.NEW) return uuid;
    if (state === CODE.CANCEL) return (await edit(owner, uuid, 'CANCEL'), uuid);
    await edit('scheduler', uuid, 'ASSIGNED', { 'staff-id': server.users.staff.id });
    if (state === CODE.ASSIGNED) return uuid;
    if (state === CODE.REQUEST_INFORMATION) return (await edit('staff', uuid, 'REQUEST_INFORMATION'), uuid);
    if (state === CODE.IN_PROCESSING) return (await edit('staff', uuid, 'IN_PROCESSING'), uuid);
    await edit('staff', uuid, 'FIXED');
    if (state === CODE.FIXED) return uuid;
    await edit('scheduler', uuid, 'CLOSED');
    if (state === CODE.CLOSED) return uuid;
    throw new Error(`no path to ${state}`);
  }

  const statusOf = async (uuid: string): Promise<number> => (await legacyOk(server, server.users.scheduler, 'ticket-detail', { uuid }))['ticket-detail'].status;

  type Row = [spelling: unknown, who: keyof TestServer['users'], from: Code, to: Code];
  const rows: Row[] = [
    ...(['ASSIGNED', 'assigned', ' Assigned ', 2, '2'] as const).map((s): Row => [s, 'scheduler', CODE.NEW, CODE.ASSIGNED]),
    ...(
      ['IN PROCESSING', 'in processing', 'IN_PROCESSING', 'in-processing', 'In  Processing', 'In_-Processing', 'processing', 'PROCESSING', 8, '8'] as const
    ).map((s): Row => [s, 'staff', CODE.ASSIGNED, CODE.IN_PROCESSING]),
    ...(['Request Information', 'REQUEST_INFORMATION', 'request-information', 'pending', 'PENDING', 6, '6'] as const).map((s): Row => [
      s,
      'staff',
      CODE.ASSIGNED,
      CODE.REQUEST_INFORMATION,
    ]),
    ...(['Fixed', 'FIXED', 'fixed', 3, ' 3 '] as const).map((s): Row => [s, 'staff', CODE.IN_PROCESSING, CODE.FIXED]),
    ...(['CLOSED', 'closed', 4, '4'] as const).map((s): Row => [s, 'scheduler', CODE.FIXED, CODE.CLOSED]),
    ...(['REOPEN', 'reopen', 'REOPENED', 'Reopened', 5, '5'] as const).map((s): Row => [s, 'customer', CODE.CLOSED, CODE.REOPEN]),
    ...(['cancel', 'CANCEL', 'cancelled', 'CANCELED', 'Canceled', 7, '7'] as const).map((s): Row => [s, 'customer', CODE.NEW, CODE.CANCEL]),
  ];

  it.each(rows)('edit-ticket status %j by %s moves %i to %i', async (spelling, who, from, to) => {
    const uuid = await ticketIn(from);
    const extra = to === CODE.ASSIGNED ? { 'staff-id': String(server.users.staff.id) } : {};
    expect(await edit(who, uuid, spelling, extra)).toEqual({ uuid });
    expect(await statusOf(uuid)).toBe(to);
  });

  it.each(['new', 'NEW', 'New', 1, '1', null])('create-ticket accepts status %j', async (status) => {
    const { uuid } = await legacyOk(server, server.users.customer, 'create-ticket', { content: 'new', status });
    expect(await statusOf(uuid)).toBe(CODE.NEW);
  });

  describe('list filters', () => {
    // otherCustomer's tickets only, so other tests' tickets do not count.
    let byStatus: Record<number, string>;
    beforeAll(async () => {
      byStatus = {};
      for (const state of [CODE.NEW, CODE.ASSIGNED, CODE.REQUEST_INFORMATION, CODE.CANCEL]) byStatus[state] = await ticketIn(state, 'otherCustomer');
    });

    const list = async (fields: Record<string, unknown>) => {
      const answer = await legacyOk(server, server.users.otherCustomer, 'list', { operator: 'customer', ...fields });
      expect(answer.count).toBe(answer.tickets.length);
      return answer.tickets.map((ticket: { uuid: string; status: number }) => ticket.status);
    };

    it.each([['ALL'], ['all'], [' All '], [0], ['0'], [null], [undefined]])('status %j lists every status, newest first', async (status) => {
      expect(await list({ status })).toEqual([CODE.CANCEL, CODE.REQUEST_INFORMATION, CODE.ASSIGNED, CODE.NEW]);
    });

    it.each([
      ['new', CODE.NEW],
      [1, CODE.NEW],
      ['1', CODE.NEW],
      ['Assigned', CODE.ASSIGNED],
      ['Request Information', CODE.REQUEST_INFORMATION],
      ['pending', CODE.REQUEST_INFORMATION],
      ['request_information', CODE.REQUEST_INFORMATION],
      [6, CODE.REQUEST_INFORMATION],
      ['cancelled', CODE.CANCEL],
      ['CANCELED', CODE.CANCEL],
      [7, CODE.CANCEL],
    ])('status %j lists that status only', async (status, code) => {
      expect(await list({ status })).toEqual([code]);
    });

    it.each([['FIXED'], [3], ['in processing']])('status %j lists nothing when no ticket is in it', async (status) => {
      expect(await list({ status })).toEqual([]);
    });

    it('scheduler-list filters the same way', async () => {
      const answer = await legacyOk(server, server.users.scheduler, 'scheduler-list', { operator: 'scheduler', status: 'PENDING' });
      expect(answer.count).toBeGreaterThanOrEqual(1);
      expect(answer.tickets.map((ticket: { uuid: string }) => ticket.uuid)).toContain(byStatus[CODE.REQUEST_INFORMATION]);
      for (const ticket of answer.tickets) expect(ticket.status).toBe(CODE.REQUEST_INFORMATION);
    });
  });
});
