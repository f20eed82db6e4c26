import { legacyOk } from '../support/legacy-client';
import { serverWithClients } from '../support/live-suite';
import { DATABASES, type TestServer } from '../support/server';
import { connect, EventStream, settled, subscribers } from '../support/live-client';

/** The legacy endpoint goes through the same services, so its changes are live events too. */
describe.each(DATABASES)('events from POST /api/ticket (%s)', (kind) => {
  let server: TestServer;
  const clients = serverWithClients(kind, {}, (started) => (server = started));

  it('creating, editing, moving and replying through the legacy endpoint reach GraphQL subscribers', async () => {
    const { customer, otherCustomer, staff, scheduler } = server.users;
    const open = (user: typeof customer) => {
      const client = connect(server, user);
      clients.push(client);
      return new EventStream(client.client);
    };
    const streams = { customer: open(customer), otherCustomer: open(otherCustomer), staff: open(staff), scheduler: open(scheduler) };
    await subscribers(server, 4);

    const { uuid } = await legacyOk(server, customer, 'create-ticket', { content: 'Legacy printer' });
    await legacyOk(server, customer, 'edit-ticket', { uuid, content: 'Legacy printer, floor 2' });
    // Both delivered before the assignment: an event the hub reads from the log (when the writer's
    // own fan-out is not taken: a read already under way, a wait for it that ran out) carries the
    // ticket as it is then, and an assigned ticket would reach the staff member with CREATED and EDITED.
    await streams.scheduler.count(2);
    await legacyOk(server, scheduler, 'edit-ticket', { uuid, status: 'ASSIGNED', 'staff-id': staff.id });
    await legacyOk(server, staff, 'edit-ticket', { uuid, status: 'in processing' });
    const reply = await legacyOk(server, staff, 'ticket-reply-create', { uuid, reply: { userid: staff.id, content: 'Looking' } });
    await legacyOk(server, staff, 'ticket-reply-delete', { uuid, 'reply-uuid': reply.uuid });
    await streams.scheduler.count(6);
    await streams.staff.count(4);
    await settled(server);

    expect(streams.scheduler.events.map((event) => [event.kind, event.actor.username])).toEqual([
      ['CREATED', 'customer'],
      ['EDITED', 'customer'],
      ['STATUS_CHANGED', 'scheduler'],
      ['STATUS_CHANGED', 'staff'],
      ['REPLY_ADDED', 'staff'],
      ['REPLY_DELETED', 'staff'],
    ]);
    expect(streams.customer.kinds).toEqual(streams.scheduler.kinds);
    expect(streams.staff.kinds).toEqual(['STATUS_CHANGED', 'STATUS_CHANGED', 'REPLY_ADDED', 'REPLY_DELETED']);
    expect(streams.otherCustomer.kinds).toEqual([]);
    expect(streams.customer.events.every((event) => event.ticket.id === uuid)).toBe(true);
    // The deleted reply by id, without its text (test/security/deleted-reply.test.ts).
    expect(streams.customer.events[5].reply).toMatchObject({ id: reply.uuid, content: null, author: { id: String(staff.id) } });
  });
});
