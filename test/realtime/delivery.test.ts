import { gqlOk } from '../support/http';
import { serverWithClients } from '../support/live-suite';
import { DATABASES, type FixtureName, type TestServer, type TestUser } from '../support/server';
import { connect, EventStream, settled, subscribers, type ReceivedEvent } from '../support/live-client';
import { permissionFlags } from '../support/spec-tables';

/**
 * Who receives what: every kind of event, to exactly the viewers who may see the ticket at that
 * moment, each with their own permission flags.
 */

const VIEWERS: FixtureName[] = ['customer', 'otherCustomer', 'staff', 'otherStaff', 'scheduler', 'multi'];

describe.each(DATABASES)('ticket events reach exactly the viewers who may see them (%s)', (kind) => {
  let server: TestServer;
  const clients = serverWithClients(kind, {}, (started) => (server = started));

  const open = (user: TestUser, variables: { ticketId?: string; after?: string } = {}): EventStream => {
    const client = connect(server, user);
    clients.push(client);
    return new EventStream(client.client, variables);
  };

  const createTicket = async (user: TestUser, content: string): Promise<string> =>
    (await gqlOk(server, user, 'mutation($content: String!) { createTicket(input: { content: $content }) { id } }', { content })).createTicket.id;

  const run = (user: TestUser, mutation: string, id: string, extra = '') =>
    gqlOk(server, user, `mutation($id: ID!) { ${mutation}(id: $id${extra}) { id } }`, { id });

  it('delivers every kind to the right viewers with their own flags, and stops a reassigned staff member at once', async () => {
    const { users } = server;
    const streams = Object.fromEntries(VIEWERS.map((name) => [name, open(users[name])])) as Record<FixtureName, EventStream>;
    await subscribers(server, VIEWERS.length);
    const seen = (name: FixtureName) => streams[name].events;
    const last = (name: FixtureName): ReceivedEvent => seen(name)[seen(name).length - 1];
    const counts = () => Object.fromEntries(VIEWERS.map((name) => [name, seen(name).length]));
    /** Waits until each named viewer has received `n` more events than before. */
    const expectMore = async (before: Record<string, number>, names: FixtureName[]) => {
      await Promise.all(names.map((name) => streams[name].count(before[name] + 1)));
    };

    // CREATED: the customer and the scheduler; no staff member sees a NEW ticket.
    let before = counts();
    const id = await createTicket(users.customer, 'The printer is on fire');
    await expectMore(before, ['customer', 'scheduler']);
    expect(last('customer')).toMatchObject({ kind: 'CREATED', actor: { id: String(users.customer.id) }, reply: null });
    expect(last('customer').ticket).toMatchObject({ id, status: 'NEW', permissions: permissionFlags('reply', 'edit', 'cancel') });
    expect(last('scheduler').ticket.permissions).toEqual(permissionFlags('reply', 'assign', 'cancel'));

    // EDITED
    before = counts();
    await gqlOk(server, users.customer, 'mutation($id: ID!) { editTicket(id: $id, input: { content: "Smoke too" }) { id } }', { id });
    await expectMore(before, ['customer', 'scheduler']);
    expect(last('customer').kind).toBe('EDITED');

    // STATUS_CHANGED to ASSIGNED: now the assigned staff member sees it too, with their flags.
    before = counts();
    await run(users.scheduler, 'assignTicket', id, `, staffId: "${users.staff.id}"`);
    await expectMore(before, ['customer', 'scheduler', 'staff']);
    expect(last('staff')).toMatchObject({ kind: 'STATUS_CHANGED', actor: { id: String(users.scheduler.id) } });
    expect(last('staff').ticket).toMatchObject({ status: 'ASSIGNED', staff: { id: String(users.staff.id) } });
    expect(last('staff').ticket.permissions).toEqual(permissionFlags('reply', 'startProcessing', 'requestInformation', 'fix'));
    expect(last('customer').ticket.permissions).toEqual(permissionFlags('reply', 'cancel'));
    expect(last('scheduler').ticket.permissions).toEqual(permissionFlags('reply', 'assign', 'requestInformation', 'cancel'));

    // REPLY_ADDED by the staff member.
    before = counts();
    const { addReply } = await gqlOk(server, users.staff, 'mutation($id: ID!) { addReply(ticketId: $id, content: "On my way") { id } }', { id });
    await expectMore(before, ['customer', 'scheduler', 'staff']);
    expect(last('customer')).toMatchObject({
      kind: 'REPLY_ADDED',
      actor: { id: String(users.staff.id) },
      reply: { id: addReply.id, content: 'On my way', author: { id: String(users.staff.id) } },
    });

    // REPLY_DELETED still says which reply went, although the ticket no longer shows it.
    before = counts();
    await gqlOk(server, users.staff, 'mutation($id: ID!) { deleteReply(id: $id) }', { id: addReply.id });
    await expectMore(before, ['customer', 'scheduler', 'staff']);
    // The reply that went, by id: its text is gone (test/security/deleted-reply.test.ts).
    expect(last('scheduler')).toMatchObject({ kind: 'REPLY_DELETED', reply: { id: addReply.id, content: null } });

    // Reassigned to the other staff member: the first one receives nothing from now on.
    before = counts();
    await run(users.scheduler, 'assignTicket', id, `, staffId: "${users.otherStaff.id}"`);
    await expectMore(before, ['customer', 'scheduler', 'otherStaff']);
    expect(last('otherStaff').ticket.permissions).toEqual(permissionFlags('reply', 'startProcessing', 'requestInformation', 'fix'));
    before = counts();
    await run(users.otherStaff, 'startProcessing', id);
    await gqlOk(server, users.otherStaff, 'mutation($id: ID!) { addReply(ticketId: $id, content: "Mine now") { id } }', { id });
    await Promise.all(['customer', 'scheduler', 'otherStaff'].map((name) => streams[name as FixtureName].count(before[name] + 2)));

    await settled(server);
    expect(streams.customer.kinds).toEqual([
      'CREATED',
      'EDITED',
      'STATUS_CHANGED',
      'REPLY_ADDED',
      'REPLY_DELETED',
      'STATUS_CHANGED',
      'STATUS_CHANGED',
      'REPLY_ADDED',
    ]);
    expect(streams.scheduler.kinds).toEqual(streams.customer.kinds);
    expect(streams.staff.kinds).toEqual(['STATUS_CHANGED', 'REPLY_ADDED', 'REPLY_DELETED']);
    expect(streams.otherStaff.kinds).toEqual(['STATUS_CHANGED', 'STATUS_CHANGED', 'REPLY_ADDED']);
    expect(streams.otherCustomer.events).toEqual([]);
    // Holding the customer and staff roles grants nothing on other people's tickets.
    expect(streams.multi.events).toEqual([]);
    // The flags follow the ticket: in processing, its customer may still reply and cancel, not edit.
    expect(last('customer').ticket.permissions).toEqual(permissionFlags('reply', 'cancel'));
    for (const stream of Object.values(streams)) {
      expect(stream.errors).toEqual([]);
      // Cursors are distinct and increase.
      const cursors = stream.events.map((event) => event.cursor);
      expect(new Set(cursors).size).toBe(cursors.length);
    }
    for (const stream of Object.values(streams)) stream.stop();
    await subscribers(server, 0);
  });

  it('a single-ticket subscription sees only that ticket, and only while the viewer may see it', async () => {
    const { users } = server;
    const first = await createTicket(users.customer, 'first');
    const second = await createTicket(users.customer, 'second');
    await run(users.scheduler, 'assignTicket', first, `, staffId: "${users.staff.id}"`);

    const customer = open(users.customer, { ticketId: first });
    const staff = open(users.staff, { ticketId: first });
    const scheduler = open(users.scheduler, { ticketId: second.toUpperCase() });
    await subscribers(server, 3);

    await gqlOk(server, users.customer, 'mutation($id: ID!) { addReply(ticketId: $id, content: "on second") { id } }', { id: second });
    await gqlOk(server, users.customer, 'mutation($id: ID!) { addReply(ticketId: $id, content: "on first") { id } }', { id: first });
    await Promise.all([customer.count(1), staff.count(1), scheduler.count(1)]);

    // Reassigned away: the staff member's single-ticket stream goes quiet but stays open.
    await run(users.scheduler, 'assignTicket', first, `, staffId: "${users.otherStaff.id}"`);
    await customer.count(2);
    // Assigned back: it resumes.
    await run(users.scheduler, 'assignTicket', first, `, staffId: "${users.staff.id}"`);
    await Promise.all([customer.count(3), staff.count(2)]);
    await settled(server);

    expect(customer.events.map((event) => [event.kind, event.ticket.id, event.reply?.content ?? null])).toEqual([
      ['REPLY_ADDED', first, 'on first'],
      ['STATUS_CHANGED', first, null],
      ['STATUS_CHANGED', first, null],
    ]);
    expect(staff.events.map((event) => [event.kind, event.ticket.staff?.id])).toEqual([
      ['REPLY_ADDED', String(users.staff.id)],
      ['STATUS_CHANGED', String(users.staff.id)],
    ]);
    expect(scheduler.events.map((event) => [event.kind, event.ticket.id])).toEqual([['REPLY_ADDED', second]]);
    expect([customer, staff, scheduler].flatMap((stream) => stream.errors)).toEqual([]);
    for (const stream of [customer, staff, scheduler]) stream.stop();
    await subscribers(server, 0);
  });

  it('serves replies, history and images when the selection asks for them', async () => {
    const { users } = server;
    const client = connect(server, users.customer);
    clients.push(client);
    const stream = new EventStream(
      client.client,
      {},
      `subscription { ticketEvents { kind ticket { id replies { content } history { status actor { username } } images } } }`,
    );
    await subscribers(server, 1);
    const id = await createTicket(users.customer, 'with history');
    await gqlOk(server, users.customer, 'mutation($id: ID!) { addReply(ticketId: $id, content: "hello") { id } }', { id });
    await stream.count(2);
    const events = stream.events as unknown as Array<{
      kind: string;
      ticket: { id: string; replies: Array<{ content: string }>; history: Array<{ status: string }>; images: string[] };
    }>;
    expect(events[1]).toMatchObject({ kind: 'REPLY_ADDED', ticket: { id, replies: [{ content: 'hello' }], history: [{ status: 'NEW' }], images: [] } });
    stream.stop();
  });
});
