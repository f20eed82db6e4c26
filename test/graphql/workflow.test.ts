import { DATABASES, startServer, type TestServer } from '../support/server';
import { errorCode, gql, gqlOk, TICKET_FIELDS } from '../support/http';
import { permissionFlags } from '../support/spec-tables';

describe.each(DATABASES)('the whole workflow over GraphQL (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server?.close());

  it('files, assigns, processes, asks, fixes, closes, reopens and cancels a ticket', async () => {
    const { customer, scheduler, staff } = server.users;
    const me = await gqlOk(server, customer, '{ me { id username roles } }');
    expect(me.me).toEqual({ id: String(customer.id), username: 'customer', roles: ['CUSTOMER'] });

    const created = await gqlOk(server, customer, `mutation($input: CreateTicketInput!) { createTicket(input: $input) { ${TICKET_FIELDS} } }`, {
      input: { content: 'The printer is on fire' },
    });
    const ticket = created.createTicket;
    expect(ticket).toMatchObject({ status: 'NEW', content: 'The printer is on fire', images: [], staff: null, scheduler: null });
    expect(ticket.history).toEqual([expect.objectContaining({ status: 'NEW', actor: { id: String(customer.id), username: 'customer' } })]);
    expect(ticket.permissions).toEqual(permissionFlags('reply', 'edit', 'cancel'));

    const step = async (user: typeof customer, mutation: string, extra = '') =>
      (
        await gqlOk(
          server,
          user,
          `mutation($id: ID!) { ${mutation}(id: $id${extra}) { status history { status } permissions { reply edit assign startProcessing requestInformation fix close reopen cancel } } }`,
          { id: ticket.id },
        )
      )[mutation];

    const assigned = await step(scheduler, 'assignTicket', `, staffId: "${staff.id}"`);
    expect(assigned.status).toBe('ASSIGNED');
    expect((await step(staff, 'startProcessing')).status).toBe('IN_PROCESSING');
    expect((await step(staff, 'requestInformation')).status).toBe('REQUEST_INFORMATION');
    expect((await step(staff, 'startProcessing')).status).toBe('IN_PROCESSING');
    expect((await step(staff, 'fixTicket')).status).toBe('FIXED');
    expect((await step(scheduler, 'closeTicket')).status).toBe('CLOSED');
    const reopened = await step(customer, 'reopenTicket');
    expect(reopened.status).toBe('REOPEN');
    expect(reopened.permissions).toMatchObject({ edit: true, cancel: true, reopen: false });
    const cancelled = await step(customer, 'cancelTicket');
    expect(cancelled.status).toBe('CANCEL');
    expect(cancelled.history.map((entry: { status: string }) => entry.status)).toEqual([
      'NEW',
      'ASSIGNED',
      'IN_PROCESSING',
      'REQUEST_INFORMATION',
      'IN_PROCESSING',
      'FIXED',
      'CLOSED',
      'REOPEN',
      'CANCEL',
    ]);
    expect(cancelled.permissions).toEqual(permissionFlags());

    const detail = await gqlOk(server, scheduler, `query($id: ID!) { ticket(id: $id) { scheduler { id } staff { id } } }`, { id: ticket.id });
    expect(detail.ticket).toEqual({ scheduler: { id: String(scheduler.id) }, staff: { id: String(staff.id) } });
  });

  it('refuses the wrong viewer with FORBIDDEN and the wrong status with CONFLICT', async () => {
    const { customer, staff } = server.users;
    const { createTicket } = await gqlOk(server, customer, 'mutation { createTicket(input: { content: "x" }) { id } }');
    const forbidden = await gql(server, staff, 'mutation($id: ID!) { closeTicket(id: $id) { id } }', { id: createTicket.id });
    expect(errorCode(forbidden)).toBe('FORBIDDEN');
    expect(forbidden.errors?.[0].message).toBe('You are not allowed to close this ticket');
    const conflict = await gql(server, customer, 'mutation($id: ID!) { reopenTicket(id: $id) { id } }', { id: createTicket.id });
    expect(errorCode(conflict)).toBe('CONFLICT');
    expect(conflict.errors?.[0].message).toBe('Cannot change ticket status from NEW to REOPEN');
  });

  it('answers a missing or bad credential with UNAUTHENTICATED', async () => {
    expect(errorCode(await gql(server, null, '{ me { id } }'))).toBe('UNAUTHENTICATED');
    expect(errorCode(await gql(server, { credential: 'abcd' }, '{ me { id } }'))).toBe('UNAUTHENTICATED');
    const wrong = server.credential('customer', 'wrong password');
    expect(errorCode(await gql(server, { credential: wrong }, '{ me { id } }'))).toBe('UNAUTHENTICATED');
  });
});
