import { gql, gqlOk, GIF_BYTES, PNG_BYTES } from '../support/http';
import { DATABASES, startServer, type TestServer, type TestUser } from '../support/server';
import { SPEC_LEGACY_FLAG } from '../support/spec-tables';
import { legacy, legacyOk, postForm } from '../support/legacy-client';
import { CODE, expectError, expectTicketShape, permission } from '../support/legacy-shapes';

/**
 * The whole life of a ticket driven by a legacy client alone, checked at every step against what
 * GraphQL says about the same ticket: one domain core, two transports that cannot disagree.
 */
describe.each(DATABASES)('a legacy client through the whole workflow (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server?.close());

  const detail = async (user: TestUser, uuid: string) => (await legacyOk(server, user, 'ticket-detail', { uuid }))['ticket-detail'];
  const edit = (user: TestUser, uuid: string, fields: Record<string, unknown>) => legacyOk(server, user, 'edit-ticket', { uuid, ...fields });
  const uuids = (answer: { tickets: Array<{ uuid: string }> }) => answer.tickets.map((ticket) => ticket.uuid);

  /** The viewer's GraphQL permission flags on a ticket, as a legacy permission object. */
  async function graphqlPermission(user: TestUser, uuid: string): Promise<Record<string, 0 | 1>> {
    const data = await gqlOk(
      server,
      user,
      'query($id: ID!) { ticket(id: $id) { permissions { reply edit assign startProcessing requestInformation fix close reopen cancel } } }',
      { id: uuid },
    );
    const flags: Record<string, 0 | 1> = {};
    for (const [field, key] of Object.entries(SPEC_LEGACY_FLAG)) flags[key] = data.ticket.permissions[field] ? 1 : 0;
    return flags;
  }

  /** Each viewer's legacy flags equal their GraphQL flags, and equal `expected` when given. */
  async function expectFlags(uuid: string, expected: Partial<Record<'customer' | 'staff' | 'scheduler', Record<string, 0 | 1>>>): Promise<void> {
    for (const name of ['customer', 'staff', 'scheduler'] as const) {
      const user = server.users[name];
      const answer = await legacy(server, user, 'ticket-detail', { uuid });
      if (answer.status === 403) {
        // A viewer who may not see the ticket is refused the same way by GraphQL.
        expect((await gql(server, user, 'query($id: ID!) { ticket(id: $id) { id } }', { id: uuid })).errors?.[0].message).toBe(answer.body.message);
        expect(expected[name]).toBeUndefined();
        continue;
      }
      const flags = answer.body['ticket-detail'].permission;
      expect(flags).toEqual(await graphqlPermission(user, uuid));
      if (expected[name]) expect({ [name]: flags }).toEqual({ [name]: expected[name] });
    }
  }

  it('files, lists, assigns, processes, asks, fixes, closes, reopens and cancels, with replies', async () => {
    const { customer, staff, otherStaff, scheduler, multi } = server.users;

    // Create, with images, as a form.
    const created = await postForm(server, { action: 'create-ticket', credential: customer.credential, content: 'The printer is on fire', status: 'new' }, [
      { bytes: PNG_BYTES },
      { bytes: GIF_BYTES },
    ]);
    expect(created.status).toBe(200);
    const uuid: string = created.body.uuid;
    await expectFlags(uuid, { customer: permission('reply', 'CANCEL'), scheduler: permission('reply', 'ASSIGNED', 'CANCEL') });
    const images = (await detail(customer, uuid)).images;
    expect(images).toHaveLength(2);

    // Lists as each role.
    const mine = await legacyOk(server, multi, 'create-ticket', { content: 'multi files one too' });
    expect(uuids(await legacyOk(server, customer, 'list', { operator: 'customer', status: 'ALL' }))).toEqual([uuid]);
    expect(await legacyOk(server, staff, 'list', { operator: 'staff', status: 0 })).toEqual({ count: 0, tickets: [] });
    expect(uuids(await legacyOk(server, scheduler, 'scheduler-list', { operator: 'scheduler' }))).toEqual([mine.uuid, uuid]);
    expect(uuids(await legacyOk(server, multi, 'list', { operator: 'customer' }))).toEqual([mine.uuid]);
    expect(await legacyOk(server, multi, 'list', { operator: 'staff' })).toEqual({ count: 0, tickets: [] });

    // Assign to the wrong staff member, then reassign: visibility follows the assignment.
    await edit(scheduler, uuid, { status: 'ASSIGNED', 'staff-id': otherStaff.id });
    expect(uuids(await legacyOk(server, otherStaff, 'list', { operator: 'staff' }))).toEqual([uuid]);
    await edit(scheduler, uuid, { status: 'ASSIGNED', 'staff-id': String(staff.id) });
    expect(await legacyOk(server, otherStaff, 'list', { operator: 'staff' })).toEqual({ count: 0, tickets: [] });
    expect(uuids(await legacyOk(server, staff, 'list', { operator: 'staff' }))).toEqual([uuid]);
    expect(await detail(staff, uuid)).toMatchObject({ status: CODE.ASSIGNED, 'scheduler-id': scheduler.id, 'staff-id': staff.id });
    await expectFlags(uuid, {
      customer: permission('reply', 'CANCEL'),
      staff: permission('reply', 'FIXED', 'PENDING', 'IN PROCESSING'),
      scheduler: permission('reply', 'ASSIGNED', 'PENDING', 'CANCEL'),
    });

    // Process, ask the customer, who answers and edits while asked, then process again.
    await edit(staff, uuid, { status: 'IN PROCESSING' });
    await edit(staff, uuid, { status: 'Request Information' });
    await expectFlags(uuid, { customer: permission('reply', 'CANCEL'), staff: permission('reply', 'IN PROCESSING') });
    const question = await legacyOk(server, staff, 'ticket-reply-create', { uuid, reply: { userid: staff.id, content: 'Which printer?' } });
    const answer = await legacyOk(server, customer, 'ticket-reply-create', { uuid, reply: { userid: customer.id, content: 'The one on floor 2' } });
    const typo = await legacyOk(server, customer, 'ticket-reply-create', { uuid, reply: { content: 'teh one' } });
    await legacyOk(server, customer, 'ticket-reply-delete', { uuid, 'reply-uuid': typo.uuid });
    await edit(customer, uuid, { content: 'The printer on floor 2 is on fire', images: [images[1]] });
    await edit(staff, uuid, { status: 'processing' });

    // Fix, close, reopen, cancel.
    await edit(staff, uuid, { status: 'Fixed' });
    await expectFlags(uuid, { customer: permission('reply', 'REOPENED'), staff: permission('reply'), scheduler: permission('reply', 'CLOSED') });
    await edit(scheduler, uuid, { status: 'CLOSED' });
    await expectFlags(uuid, { customer: permission('REOPENED'), staff: permission(), scheduler: permission() });
    await edit(customer, uuid, { status: 'REOPENED' });
    await expectFlags(uuid, { customer: permission('reply', 'CANCEL'), staff: permission('reply'), scheduler: permission('reply', 'ASSIGNED', 'CANCEL') });
    await edit(customer, uuid, { status: 'cancel' });
    await expectFlags(uuid, { customer: permission(), scheduler: permission() });

    const final = await detail(scheduler, uuid);
    expectTicketShape(final);
    expect(final).toMatchObject({
      uuid,
      'customer-id': customer.id,
      'scheduler-id': scheduler.id,
      'staff-id': staff.id,
      content: 'The printer on floor 2 is on fire',
      images: [images[1]],
      status: CODE.CANCEL,
    });
    expect(final.reply.map((reply: { uuid: string; userid: number; content: string }) => [reply.uuid, reply.userid, reply.content])).toEqual([
      [question.uuid, staff.id, 'Which printer?'],
      [answer.uuid, customer.id, 'The one on floor 2'],
    ]);
    expect(final['operating-history'].map((entry: { userid: number; status: number }) => [entry.userid, entry.status])).toEqual([
      [customer.id, CODE.NEW],
      [scheduler.id, CODE.ASSIGNED],
      [scheduler.id, CODE.ASSIGNED],
      [staff.id, CODE.IN_PROCESSING],
      [staff.id, CODE.REQUEST_INFORMATION],
      [staff.id, CODE.IN_PROCESSING],
      [staff.id, CODE.FIXED],
      [scheduler.id, CODE.CLOSED],
      [customer.id, CODE.REOPEN],
      [customer.id, CODE.CANCEL],
    ]);
    // The customer's own list shows the same ticket, and the count matches.
    const list = await legacyOk(server, customer, 'list', { operator: 'customer', status: 'cancelled' });
    expect(list).toEqual({ count: 1, tickets: [final] });
  });

  it('pages a list on request, with count the total, and every ticket without paging', async () => {
    const { otherCustomer } = server.users;
    const filed: string[] = [];
    for (let index = 0; index < 5; index++) filed.unshift((await legacyOk(server, otherCustomer, 'create-ticket', { content: `page ${index}` })).uuid);
    const list = (fields: Record<string, unknown>) => legacyOk(server, otherCustomer, 'list', { operator: 'customer', ...fields });

    const all = await list({});
    expect(all.count).toBe(5);
    expect(uuids(all)).toEqual(filed);
    const pages = [];
    for (const page of [1, 2, 3]) pages.push(await list({ page, 'page-size': 2 }));
    expect(pages.map((page) => page.count)).toEqual([5, 5, 5]);
    expect(pages.map(uuids)).toEqual([filed.slice(0, 2), filed.slice(2, 4), filed.slice(4)]);
    expect(await list({ page: '4', 'page-size': '2' })).toEqual({ count: 5, tickets: [] });
    // page-size alone is page 1; page alone uses the default size (20).
    expect(uuids(await list({ 'page-size': 3 }))).toEqual(filed.slice(0, 3));
    expect(uuids(await list({ page: 1 }))).toEqual(filed);
    // With a filter, count is the filtered total.
    await legacyOk(server, otherCustomer, 'edit-ticket', { uuid: filed[0], status: 'cancel' });
    expect(await list({ status: 'NEW', page: 1, 'page-size': 1 })).toMatchObject({ count: 4, tickets: [{ uuid: filed[1] }] });
  });

  it('a legacy action and the equivalent GraphQL mutation give the same ticket and the same refusals', async () => {
    const { customer, staff, scheduler } = server.users;
    const viaLegacy = (await legacyOk(server, customer, 'create-ticket', { content: 'twin' })).uuid as string;
    const viaGraphql = (await gqlOk(server, customer, `mutation { createTicket(input: { content: "twin" }) { id } }`)).createTicket.id as string;

    // Who does each step (null: nobody, the step is only refused), and who is refused it first:
    // FORBIDDEN, or CONFLICT from the current status.
    type Step = [user: TestUser | null, legacyFields: Record<string, unknown>, mutation: string, refused: TestUser[]];
    const steps: Step[] = [
      [scheduler, { status: 'ASSIGNED', 'staff-id': staff.id }, `assignTicket(id: $id, staffId: "${staff.id}")`, [customer, staff]],
      [staff, { status: 'IN PROCESSING' }, 'startProcessing(id: $id)', [customer, scheduler]],
      [scheduler, { status: 'PENDING' }, 'requestInformation(id: $id)', [customer]],
      [null, { status: 'FIXED' }, 'fixTicket(id: $id)', [customer, scheduler, staff]],
      [staff, { status: 'IN PROCESSING' }, 'startProcessing(id: $id)', []],
      [staff, { status: 'FIXED' }, 'fixTicket(id: $id)', [customer, scheduler]],
      [scheduler, { status: 'CLOSED' }, 'closeTicket(id: $id)', [customer, staff]],
      [customer, { status: 'REOPEN' }, 'reopenTicket(id: $id)', [staff, scheduler]],
      [customer, { content: 'twin, edited' }, 'editTicket(id: $id, input: { content: "twin, edited" })', [staff, scheduler]],
      [scheduler, { status: 'CANCEL' }, 'cancelTicket(id: $id)', [staff]],
      [null, { status: 'CLOSED' }, 'closeTicket(id: $id)', [customer, staff, scheduler]],
    ];
    /** The legacy ticket without what differs between two tickets by nature (ids, times). */
    const comparable = async (uuid: string, viewer: TestUser) => {
      const ticket = await detail(viewer, uuid);
      return {
        ...ticket,
        uuid: undefined,
        reply: ticket.reply.map((reply: object) => ({ ...reply, uuid: undefined, date: undefined })),
        'operating-history': ticket['operating-history'].map((entry: object) => ({ ...entry, uuid: undefined, date: undefined })),
      };
    };
    for (const [user, fields, mutation, refused] of steps) {
      for (const other of refused) {
        const refusedLegacy = await legacy(server, other, 'edit-ticket', { uuid: viaLegacy, ...fields });
        const refusedGraphql = await gql(server, other, `mutation($id: ID!) { ${mutation} { id } }`, { id: viaGraphql });
        expect([403, 409]).toContain(refusedLegacy.status);
        expect(refusedGraphql.errors?.[0].message).toBe(refusedLegacy.body.message);
        expect(refusedGraphql.errors?.[0].extensions?.code).toBe(refusedLegacy.status === 403 ? 'FORBIDDEN' : 'CONFLICT');
      }
      if (user === null) continue;
      await legacyOk(server, user, 'edit-ticket', { uuid: viaLegacy, ...fields });
      await gqlOk(server, user, `mutation($id: ID!) { ${mutation} { id } }`, { id: viaGraphql });
      for (const viewer of [customer, scheduler]) {
        expect(await comparable(viaLegacy, viewer)).toEqual(await comparable(viaGraphql, viewer));
      }
    }
  });

  it('answers the documented errors where the seed says so, and the ticket is unchanged', async () => {
    const { customer, staff } = server.users;
    const { uuid } = await legacyOk(server, customer, 'create-ticket', { content: 'untouched' });
    const before = await detail(customer, uuid);
    expectError(await legacy(server, staff, 'edit-ticket', { uuid, status: 'FIXED' }), 403, 'You are not allowed to fixed this ticket');
    expectError(await legacy(server, customer, 'edit-ticket', { uuid, status: 'FIXED' }), 403, 'You are not allowed to fixed this ticket');
    expectError(await legacy(server, customer, 'edit-ticket', { uuid, status: 'REOPEN' }), 409, 'Cannot change ticket status from NEW to REOPEN');
    expectError(await legacy(server, customer, 'edit-ticket', { uuid, status: 'CANCEL', content: 'both' }), 400, /^edit-ticket changes either/);
    expect(await detail(customer, uuid)).toEqual(before);
  });
});
