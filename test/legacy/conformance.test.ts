import { GIF_BYTES, PNG_BYTES } from '../support/http';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { legacyOk, postRaw, seedRequest } from '../support/legacy-client';
import { CODE, expectError, expectRecentMs, expectTicketShape, permission, UUID } from '../support/legacy-shapes';

/**
 * The seed document, replayed: each of its example requests, byte for byte except for real
 * credentials (still broken over lines as the document breaks them) and real uuids and user ids,
 * in the order a ticket's life calls them, with every field of every answer checked.
 */
describe.each(DATABASES)('the seed document replayed against /api/ticket (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server?.close());

  // The ticket's life, built up step by step by the tests below (they run in order).
  let ticketId = '';
  let imageUrls: string[] = [];
  let replyId = '';

  const send = (text: string) => postRaw(server, text);
  const uuidOf = (id: string): [string, string] => ['"uuid": "123456"', `"uuid": "${id}"`];
  const detail = async (user = server.users.customer) => (await legacyOk(server, user, 'ticket-detail', { uuid: ticketId }))['ticket-detail'];

  it('2.3 permission-check answers the user id as a string and every role held', async () => {
    const { admin, customer, multi, staff, scheduler } = server.users;
    const answer = await send(seedRequest('permissionCheck', admin.credential));
    expect(answer).toMatchObject({ status: 200, body: { userid: String(admin.id), operator: ['customer', 'staff', 'scheduler'] } });
    expect(Object.keys(answer.body)).toEqual(['userid', 'operator']);
    for (const [user, operator] of [
      [customer, ['customer']],
      [staff, ['staff']],
      [scheduler, ['scheduler']],
      [multi, ['customer', 'staff']],
    ] as const) {
      expect((await send(seedRequest('permissionCheck', user.credential))).body).toEqual({ userid: String(user.id), operator });
    }
  });

  it('2.1 create-ticket files a NEW ticket with its images, answering its uuid', async () => {
    const { customer, staff } = server.users;
    const images = `["${PNG_BYTES.toString('base64')}", "data:image/gif;base64,${GIF_BYTES.toString('base64')}"]`;
    const answer = await send(seedRequest('createTicket', customer.credential, [['[二进制文件, 二进制文件]', images]]));
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.body)).toEqual(['uuid']);
    expect(answer.body.uuid).toMatch(UUID);
    ticketId = answer.body.uuid;

    const ticket = await detail();
    imageUrls = ticket.images;
    expect(ticket).toMatchObject({ content: 'abcdef', status: CODE.NEW, 'customer-id': customer.id, 'scheduler-id': null, 'staff-id': null });
    expect(imageUrls).toHaveLength(2);
    for (const [url, bytes] of [
      [imageUrls[0], PNG_BYTES],
      [imageUrls[1], GIF_BYTES],
    ] as const) {
      expect(Buffer.from(await (await fetch(url)).arrayBuffer())).toEqual(bytes);
    }

    // Seed 2.1 异常1: only customers file tickets.
    expectError(await send(seedRequest('createTicket', staff.credential, [['[二进制文件, 二进制文件]', images]])), 403, 'You are not allowed to create ticket');
  });

  it('2.2 edit-ticket changes content and images (given as URLs, in single quotes)', async () => {
    const { customer, otherCustomer } = server.users;
    const images = `[ '${imageUrls[1]}', '${imageUrls[0]}' ]`;
    const request = (user: typeof customer) =>
      seedRequest('editTicket', user.credential, [
        uuidOf(ticketId),
        ['"content": "abcdef"', '"content": "The printer is on fire"'],
        ["[ 'http://img.png', 'http://img.png' ]", images],
      ]);
    const answer = await send(request(customer));
    expect(answer).toEqual(expect.objectContaining({ status: 200, body: { uuid: ticketId } }));
    const ticket = await detail();
    expect(ticket.content).toBe('The printer is on fire');
    expect(ticket.images).toEqual([imageUrls[1], imageUrls[0]]);
    // Editing is not a status change: no history entry.
    expect(ticket['operating-history']).toHaveLength(1);

    // Seed 2.2 异常1.
    expectError(await send(request(otherCustomer)), 403, 'You are not allowed to edit this ticket');
  });

  it('2.4 list as customer answers count and every ticket in the seed shape, newest first', async () => {
    const { customer } = server.users;
    const older = await legacyOk(server, customer, 'create-ticket', { content: 'older' });
    const newer = await legacyOk(server, customer, 'create-ticket', { content: 'newer' });
    const answer = await send(seedRequest('listAsCustomer', customer.credential));
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.body)).toEqual(['count', 'tickets']);
    expect(answer.body.count).toBe(3);
    expect(answer.body.tickets.map((ticket: { uuid: string }) => ticket.uuid)).toEqual([newer.uuid, older.uuid, ticketId]);
    for (const ticket of answer.body.tickets) expectTicketShape(ticket);
    expect(answer.body.tickets[2]).toEqual({
      uuid: ticketId,
      'customer-id': customer.id,
      'scheduler-id': null,
      'staff-id': null,
      content: 'The printer is on fire',
      images: [imageUrls[1], imageUrls[0]],
      reply: [],
      'operating-history': [{ uuid: expect.stringMatching(UUID), date: expect.any(Number), userid: customer.id, status: CODE.NEW }],
      status: CODE.NEW,
      // The seed's own example for a NEW ticket seen by its customer: reply and CANCEL.
      permission: permission('reply', 'CANCEL'),
    });
    // Get the extra tickets out of the way of the later lists.
    for (const { uuid } of [older, newer]) await legacyOk(server, customer, 'edit-ticket', { uuid, status: 'cancel' });
  });

  it('2.5 ticket-detail answers the uuid and the ticket', async () => {
    const { customer, staff } = server.users;
    const answer = await send(seedRequest('ticketDetail', customer.credential, [['"uuid": "123456"', `"uuid": "${ticketId}"`]]));
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.body)).toEqual(['uuid', 'ticket-detail']);
    expect(answer.body.uuid).toBe(ticketId);
    expectTicketShape(answer.body['ticket-detail']);
    expect(answer.body['ticket-detail']).toMatchObject({ uuid: ticketId, status: CODE.NEW, permission: permission('reply', 'CANCEL') });
    // Seed 2.5 异常1: a staff member looking at a ticket not assigned to them.
    expectError(
      await send(seedRequest('ticketDetail', staff.credential, [['"uuid": "123456"', `"uuid": "${ticketId}"`]])),
      403,
      'You are not allowed to check this ticket',
    );
  });

  it("2.6 scheduler-list answers every ticket, newest first, with the scheduler's flags", async () => {
    const { scheduler, customer } = server.users;
    const answer = await send(seedRequest('schedulerList', scheduler.credential));
    expect(answer.status).toBe(200);
    expect(answer.body.count).toBe(3);
    expect(answer.body.tickets).toHaveLength(3);
    for (const ticket of answer.body.tickets) expectTicketShape(ticket);
    const ours = answer.body.tickets[2];
    expect(ours.uuid).toBe(ticketId);
    expect(ours.permission).toEqual(permission('reply', 'ASSIGNED', 'CANCEL'));
    expectError(await send(seedRequest('schedulerList', customer.credential)), 403, 'You are not allowed to list tickets as scheduler');
  });

  it('4.1 edit-ticket status ASSIGNED: the seed request plus staff-id assigns it', async () => {
    const { scheduler, staff, customer } = server.users;
    const verbatim = (user: typeof scheduler) => seedRequest('assign', user.credential, [uuidOf(ticketId)]);
    // Seed 4.1 异常1: only schedulers assign; the seed's request names no staff member, which
    // a scheduler must add (docs/contract.md: staff-id for ASSIGNED).
    expectError(await send(verbatim(customer)), 403, 'You are not allowed to assign this ticket');
    expectError(await send(verbatim(scheduler)), 400, /^staff-id /);
    const answer = await send(
      seedRequest('assign', scheduler.credential, [uuidOf(ticketId), ['"status": "ASSIGNED",', `"status": "ASSIGNED",\n  "staff-id": ${staff.id},`]]),
    );
    expect(answer).toEqual(expect.objectContaining({ status: 200, body: { uuid: ticketId } }));
    expect(await detail()).toMatchObject({
      status: CODE.ASSIGNED,
      'scheduler-id': scheduler.id,
      'staff-id': staff.id,
      permission: permission('reply', 'CANCEL'),
    });
  });

  it('2.7 list as staff answers the tickets assigned to them, with the staff flags', async () => {
    const { staff, otherStaff, customer } = server.users;
    const answer = await send(seedRequest('listAsStaff', staff.credential));
    expect(answer.status).toBe(200);
    expect(answer.body.count).toBe(1);
    expectTicketShape(answer.body.tickets[0]);
    expect(answer.body.tickets[0]).toMatchObject({ uuid: ticketId, permission: permission('reply', 'FIXED', 'PENDING', 'IN PROCESSING') });
    expect((await send(seedRequest('listAsStaff', otherStaff.credential))).body).toEqual({ count: 0, tickets: [] });
    expectError(await send(seedRequest('listAsStaff', customer.credential)), 403, 'You are not allowed to list tickets as staff');
  });

  it('4.5 edit-ticket status "IN PROCESSING" by the assigned staff member', async () => {
    const { staff, customer } = server.users;
    expectError(await send(seedRequest('inProcessing', customer.credential, [uuidOf(ticketId)])), 403, 'You are not allowed to IN PROCESSING this ticket');
    expect((await send(seedRequest('inProcessing', staff.credential, [uuidOf(ticketId)]))).body).toEqual({ uuid: ticketId });
    expect((await detail()).status).toBe(CODE.IN_PROCESSING);
  });

  it('3.1 ticket-reply-create adds a reply as the caller, answering its uuid', async () => {
    const { staff, otherStaff } = server.users;
    const request = (user: typeof staff) => seedRequest('replyCreate', user.credential, [uuidOf(ticketId), ['"userid": 1234567', `"userid": ${user.id}`]]);
    const answer = await send(request(staff));
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.body)).toEqual(['uuid']);
    replyId = answer.body.uuid;
    expect(replyId).toMatch(UUID);
    const { reply } = await detail();
    expect(reply).toEqual([{ uuid: replyId, date: expect.any(Number), userid: staff.id, content: 'abcdef' }]);
    expectRecentMs(reply[0].date);
    // Seed 3.1 异常1: a staff member replying to a ticket not assigned to them.
    expectError(await send(request(otherStaff)), 403, 'You are not allowed to check this ticket');
  });

  it("3.2 ticket-reply-delete deletes the caller's own reply", async () => {
    const { staff, scheduler, customer } = server.users;
    const keep = await legacyOk(server, customer, 'ticket-reply-create', { uuid: ticketId, reply: { userid: customer.id, content: 'kept' } });
    const request = (user: typeof staff) => seedRequest('replyDelete', user.credential, [uuidOf(ticketId), ["'1234567'", `'${replyId}'`]]);
    // Seed 3.2 异常1: not the author.
    expectError(await send(request(scheduler)), 403, 'You are not allowed to delete this reply');
    expect((await send(request(staff))).body).toEqual({ uuid: ticketId });
    expect((await detail()).reply).toEqual([{ uuid: keep.uuid, date: expect.any(Number), userid: customer.id, content: 'kept' }]);
    expectError(await send(request(staff)), 404, 'Reply not found');
  });

  it('4.2 edit-ticket status "Fixed" by the assigned staff member', async () => {
    const { staff, otherStaff } = server.users;
    expectError(await send(seedRequest('fixed', otherStaff.credential, [uuidOf(ticketId)])), 403, 'You are not allowed to fixed this ticket');
    expect((await send(seedRequest('fixed', staff.credential, [uuidOf(ticketId)]))).body).toEqual({ uuid: ticketId });
    expect(await detail()).toMatchObject({ status: CODE.FIXED, permission: permission('reply', 'REOPENED') });
  });

  it('4.3 edit-ticket status CLOSED by a scheduler', async () => {
    const { scheduler, staff } = server.users;
    expectError(await send(seedRequest('closed', staff.credential, [uuidOf(ticketId)])), 403, 'You are not allowed to close this ticket');
    expect((await send(seedRequest('closed', scheduler.credential, [uuidOf(ticketId)]))).body).toEqual({ uuid: ticketId });
    expect(await detail()).toMatchObject({ status: CODE.CLOSED, permission: permission('REOPENED') });
  });

  it('4.4 edit-ticket status REOPEN by the customer who filed it', async () => {
    const { customer, scheduler } = server.users;
    expectError(await send(seedRequest('reopen', scheduler.credential, [uuidOf(ticketId)])), 403, 'You are not allowed to reopen this ticket');
    expect((await send(seedRequest('reopen', customer.credential, [uuidOf(ticketId)]))).body).toEqual({ uuid: ticketId });
    expect(await detail()).toMatchObject({ status: CODE.REOPEN, permission: permission('reply', 'CANCEL') });
  });

  it('4.6 edit-ticket status "cancel" by the customer, and the whole history', async () => {
    const { customer, staff, scheduler } = server.users;
    expectError(await send(seedRequest('cancel', staff.credential, [uuidOf(ticketId)])), 403, 'You are not allowed to cancel this ticket');
    expect((await send(seedRequest('cancel', customer.credential, [uuidOf(ticketId)]))).body).toEqual({ uuid: ticketId });
    const ticket = await detail();
    expectTicketShape(ticket);
    expect(ticket).toMatchObject({ status: CODE.CANCEL, 'scheduler-id': scheduler.id, 'staff-id': staff.id, permission: permission() });
    expect(ticket['operating-history'].map((entry: { userid: number; status: number }) => [entry.userid, entry.status])).toEqual([
      [customer.id, CODE.NEW],
      [scheduler.id, CODE.ASSIGNED],
      [staff.id, CODE.IN_PROCESSING],
      [staff.id, CODE.FIXED],
      [scheduler.id, CODE.CLOSED],
      [customer.id, CODE.REOPEN],
      [customer.id, CODE.CANCEL],
    ]);
    // Wrong status for the operation: 409, naming both statuses.
    expectError(await send(seedRequest('cancel', customer.credential, [uuidOf(ticketId)])), 409, 'Cannot change ticket status from CANCEL to CANCEL');
  });
});
