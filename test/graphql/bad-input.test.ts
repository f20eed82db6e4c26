import { randomUUID } from 'node:crypto';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { createTicketAs, defaultActors, errorCode, gql, gqlOk, PNG_BYTES, snapshot, ticketIn, upload, type GraphQLResponse } from '../support/http';

/**
 * Bad input is the client's mistake: a 4xx answer with BAD_USER_INPUT (or GraphQL's own
 * validation code) naming the field, never a 500 or a stack trace. Also: editTicket keeps the
 * fields it is not given.
 */

const MAX = 65_536;
const CREATE = 'mutation($input: CreateTicketInput!) { createTicket(input: $input) { id content } }';
const REPLY = 'mutation($id: ID!, $content: String!) { addReply(ticketId: $id, content: $content) { id content } }';
const EDIT = 'mutation($id: ID!, $input: EditTicketInput!) { editTicket(id: $id, input: $input) { id content images updatedAt } }';

/** A client error, never a server error, with this code and (when given) this field. */
function expectClientError(result: GraphQLResponse, code = 'BAD_USER_INPUT', field?: string): void {
  expect(result.status).toBeLessThan(500);
  expect(result.errors?.length).toBeGreaterThan(0);
  expect({ code: errorCode(result), ...(field ? { field: result.errors?.[0].extensions?.field } : {}) }).toEqual({ code, ...(field ? { field } : {}) });
  expect(JSON.stringify(result.errors)).not.toMatch(/stacktrace|INTERNAL_SERVER_ERROR|\.ts:\d+/);
}

const BAD_TEXT: Array<[string, unknown]> = [
  ['empty', ''],
  ['blank', '   '],
  ['whitespace only', '\n\t \r\n'],
  [`${MAX + 1} characters`, 'x'.repeat(MAX + 1)],
  [`${MAX + 1} emoji (code points, not UTF-16 units)`, '😀'.repeat(MAX + 1)],
  ['a NUL character', 'before\u0000after'],
];

describe.each(DATABASES)('bad input over GraphQL (%s)', (kind) => {
  let server: TestServer;
  /** A ticket every viewer-appropriate mutation could act on, and a reply on it. */
  let ticket: { id: string; replyId?: string };

  beforeAll(async () => {
    server = await startServer(kind);
    ticket = await ticketIn(server, 'ASSIGNED', defaultActors(server), { reply: true });
  });
  afterAll(() => server?.close());

  describe('text fields', () => {
    it.each(BAD_TEXT)('createTicket with %s content is BAD_USER_INPUT naming content', async (_, content) => {
      expectClientError(await gql(server, server.users.customer, CREATE, { input: { content } }), 'BAD_USER_INPUT', 'content');
    });

    it.each(BAD_TEXT)('addReply with %s content is BAD_USER_INPUT naming content', async (_, content) => {
      expectClientError(await gql(server, server.users.customer, REPLY, { id: ticket.id, content }), 'BAD_USER_INPUT', 'content');
    });

    it.each(BAD_TEXT)('editTicket with %s content is BAD_USER_INPUT naming content', async (_, content) => {
      const { id } = await ticketIn(server, 'NEW', defaultActors(server));
      expectClientError(await gql(server, server.users.customer, EDIT, { id, input: { content } }), 'BAD_USER_INPUT', 'content');
    });

    it(`accepts exactly ${MAX} characters, and ${MAX} emoji, stored as sent`, async () => {
      for (const content of ['y'.repeat(MAX), '😀'.repeat(MAX), ' padded but not blank ']) {
        const created = await gqlOk(server, server.users.customer, CREATE, { input: { content } });
        expect(created.createTicket.content).toBe(content);
      }
      const reply = await gqlOk(server, server.users.customer, REPLY, { id: ticket.id, content: 'z'.repeat(MAX) });
      expect(reply.addReply.content).toHaveLength(MAX);
    });
  });

  describe('ids', () => {
    const MALFORMED = ['abc', '42', '', `${randomUUID()}0`, 'x'.repeat(10_000), "'; drop table tickets; --"];
    const BY_ID = ['startProcessing', 'requestInformation', 'fixTicket', 'closeTicket', 'reopenTicket', 'cancelTicket'];

    it.each(BY_ID)('%s with a malformed id is BAD_USER_INPUT naming id', async (mutation) => {
      for (const id of MALFORMED) {
        expectClientError(await gql(server, server.users.scheduler, `mutation($id: ID!) { ${mutation}(id: $id) { id } }`, { id }), 'BAD_USER_INPUT', 'id');
      }
    });

    it.each(BY_ID)('%s with an unknown id is NOT_FOUND', async (mutation) => {
      expectClientError(await gql(server, server.users.scheduler, `mutation($id: ID!) { ${mutation}(id: $id) { id } }`, { id: randomUUID() }), 'NOT_FOUND');
    });

    it('assignTicket, editTicket, addReply and deleteReply with malformed ids are BAD_USER_INPUT naming their argument', async () => {
      const { scheduler, customer, staff } = server.users;
      for (const id of MALFORMED) {
        const assign = await gql(server, scheduler, 'mutation($id: ID!, $staffId: ID!) { assignTicket(id: $id, staffId: $staffId) { id } }', {
          id,
          staffId: String(staff.id),
        });
        expectClientError(assign, 'BAD_USER_INPUT', 'id');
        expectClientError(await gql(server, customer, EDIT, { id, input: { content: 'x' } }), 'BAD_USER_INPUT', 'id');
        expectClientError(await gql(server, customer, REPLY, { id, content: 'x' }), 'BAD_USER_INPUT', 'ticketId');
        const del = await gql(server, customer, 'mutation($id: ID!) { deleteReply(id: $id) }', { id });
        expectClientError(del, 'BAD_USER_INPUT');
      }
    });

    it('deleteReply with a malformed id names its argument, id', async () => {
      const del = await gql(server, server.users.customer, 'mutation($id: ID!) { deleteReply(id: $id) }', { id: 'abc' });
      expectClientError(del, 'BAD_USER_INPUT', 'id');
    });

    it('editTicket, addReply and deleteReply with unknown ids are NOT_FOUND', async () => {
      const { customer } = server.users;
      expectClientError(await gql(server, customer, EDIT, { id: randomUUID(), input: { content: 'x' } }), 'NOT_FOUND');
      expectClientError(await gql(server, customer, REPLY, { id: randomUUID(), content: 'x' }), 'NOT_FOUND');
      expectClientError(await gql(server, customer, 'mutation($id: ID!) { deleteReply(id: $id) }', { id: randomUUID() }), 'NOT_FOUND');
      // A deleted reply is gone: deleting it again is NOT_FOUND.
      const own = await gqlOk(server, customer, REPLY, { id: ticket.id, content: 'to delete' });
      expect((await gqlOk(server, customer, 'mutation($id: ID!) { deleteReply(id: $id) }', { id: own.addReply.id })).deleteReply).toBe(own.addReply.id);
      expectClientError(await gql(server, customer, 'mutation($id: ID!) { deleteReply(id: $id) }', { id: own.addReply.id }), 'NOT_FOUND');
    });

    it.each([
      ['not a number', 'abc'],
      ['negative', '-1'],
      ['zero', '0'],
      ['a fraction', '1.5'],
      ['too large', '99999999999'],
      ['hex', '0x10'],
      ['empty', ''],
    ])('assignTicket with a staffId that is %s is BAD_USER_INPUT naming staffId', async (_, staffId) => {
      const { id } = await ticketIn(server, 'NEW', defaultActors(server));
      const result = await gql(server, server.users.scheduler, 'mutation($id: ID!, $staffId: ID!) { assignTicket(id: $id, staffId: $staffId) { id } }', {
        id,
        staffId,
      });
      expectClientError(result, 'BAD_USER_INPUT', 'staffId');
    });

    it('assignTicket to a user who is not staff, or does not exist, is BAD_USER_INPUT naming staffId and changes nothing', async () => {
      const { scheduler, customer, admin } = server.users;
      const { id } = await ticketIn(server, 'NEW', defaultActors(server));
      const before = await snapshot(server, scheduler, id);
      for (const staffId of [customer.id, scheduler.id, 999_999]) {
        const result = await gql(server, scheduler, 'mutation($id: ID!, $staffId: ID!) { assignTicket(id: $id, staffId: $staffId) { id } }', {
          id,
          staffId: String(staffId),
        });
        expectClientError(result, 'BAD_USER_INPUT', 'staffId');
      }
      expect(await snapshot(server, scheduler, id)).toEqual(before);
      // Anyone holding the staff role may be assigned, whatever else they hold; a number works too.
      for (const staffId of [server.users.multi.id, admin.id]) {
        const ok = await gqlOk(server, scheduler, 'mutation($id: ID!, $staffId: ID!) { assignTicket(id: $id, staffId: $staffId) { staff { id } } }', {
          id,
          staffId,
        });
        expect(ok.assignTicket.staff.id).toBe(String(staffId));
      }
    });
  });

  describe('GraphQL types', () => {
    it.each([
      ['content as a number', { input: { content: 123 } }],
      ['content as null', { input: { content: null } }],
      ['content missing', { input: {} }],
      ['input missing', {}],
      ['an unknown input field', { input: { content: 'x', status: 'CLOSED' } }],
      ['images as a list of numbers', { input: { content: 'x', images: [1, 2] } }],
      ['images as an object', { input: { content: 'x', images: { url: 'x' } } }],
    ])('createTicket with %s is BAD_USER_INPUT (HTTP 400)', async (_, variables) => {
      const result = await gql(server, server.users.customer, CREATE, variables);
      expectClientError(result, 'BAD_USER_INPUT');
      expect(result.status).toBe(400);
    });

    it.each([
      ['true', true],
      ['an object', { id: 'x' }],
      ['a list', ['a', 'b']],
      ['a float', 1.5],
    ])('an ID variable given %s is BAD_USER_INPUT', async (_, id) => {
      expectClientError(await gql(server, server.users.customer, 'query($id: ID!) { ticket(id: $id) { id } }', { id }), 'BAD_USER_INPUT');
    });

    it('an ID given as a number is read as its digits: a malformed ticket id', async () => {
      expectClientError(await gql(server, server.users.customer, 'query($id: ID!) { ticket(id: $id) { id } }', { id: 123 }), 'BAD_USER_INPUT', 'id');
    });

    it.each([
      ['an unknown status', { filter: { status: ['DONE'] } }],
      ['a status code instead of a name', { filter: { status: [1] } }],
      ['an unknown role', { filter: { as: 'ADMIN' } }],
      ['an unknown filter field', { filter: { priority: 1 } }],
    ])('tickets with %s in the filter is BAD_USER_INPUT', async (_, variables) => {
      expectClientError(
        await gql(server, server.users.scheduler, 'query($filter: TicketFilter) { tickets(filter: $filter) { totalCount } }', variables),
        'BAD_USER_INPUT',
      );
    });

    it.each([
      ['an unknown field', '{ me { id password } }'],
      ['a literal of the wrong type', 'mutation { createTicket(input: { content: 5 }) { id } }'],
      ['an unknown argument', '{ tickets(page: 5) { totalCount } }'],
      ['an unknown enum literal', '{ tickets(filter: { status: [DONE] }) { totalCount } }'],
    ])('a query with %s is refused by validation (400), not a 500', async (_, query) => {
      const result = await gql(server, server.users.customer, query);
      expect(result.status).toBe(400);
      expectClientError(result, 'GRAPHQL_VALIDATION_FAILED');
    });

    it('a syntax error is GRAPHQL_PARSE_FAILED (400)', async () => {
      const result = await gql(server, server.users.customer, '{ me { id ');
      expect(result.status).toBe(400);
      expectClientError(result, 'GRAPHQL_PARSE_FAILED');
    });

    it.each([
      ['malformed JSON', 'application/json', '{"query": '],
      ['a JSON array of nonsense', 'application/json', '[1, 2, 3]'],
      ['no query', 'application/json', '{"variables": {}}'],
      ['a query that is not a string', 'application/json', '{"query": 42}'],
      ['an empty body', 'application/json', ''],
    ])('a POST /graphql with %s is a 4xx, not a 500', async (_, type, body) => {
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': type, authorization: `Credential ${server.users.customer.credential}` },
        body,
      });
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect(await response.text()).not.toMatch(/\.ts:\d+|at [A-Za-z]+ \(/);
    });

    it.each([
      ['JSON cut short', '{"query": ', /^The request body is not valid JSON: .*(end of JSON|position 10)/],
      ['a stray character', '{"query": "{ me { id } }"}}', /^The request body is not valid JSON: .*(position 26|"\}\}")/],
      ['only whitespace', ' \n ', /^The request body is empty$/],
      ['a __proto__ member', '{"query": "{ me { id } }", "variables": {"__proto__": {"polluted": true}}}', /"__proto__" member .*neither is accepted$/],
      [
        'a constructor.prototype member',
        '{"query": "{ me { id } }", "variables": {"constructor": {"prototype": {"polluted": true}}}}',
        /"constructor" with a "prototype"/,
      ],
    ])('a JSON body with %s is a 400 that says what is wrong, and changes no prototype', async (_, body, message) => {
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Credential ${server.users.customer.credential}` },
        body,
      });
      expect(response.status).toBe(400);
      const answer = (await response.json()) as { code: number; message: string };
      expect(answer.code).toBe(400);
      expect(answer.message).toMatch(message);
      expect(Object.prototype).not.toHaveProperty('polluted');
    });

    it('"__proto__" and "constructor" inside a string are ordinary JSON', async () => {
      const { customer } = server.users;
      const content = 'see {"__proto__": 1} and "constructor"';
      const created = await gqlOk(server, customer, 'mutation ($input: CreateTicketInput!) { createTicket(input: $input) { content } }', {
        input: { content },
      });
      expect(created.createTicket).toEqual({ content });
    });
  });

  describe('editTicket keeps what it is not given', () => {
    it('content only keeps the images; images only keeps the content; nothing keeps everything', async () => {
      const { customer, scheduler } = server.users;
      const { body } = await upload(server, customer, [{ bytes: PNG_BYTES }, { bytes: PNG_BYTES }]);
      const id = await createTicketAs(server, customer, 'original content', body.urls);

      const contentOnly = (await gqlOk(server, customer, EDIT, { id, input: { content: 'new content' } })).editTicket;
      expect(contentOnly).toMatchObject({ content: 'new content', images: body.urls });

      const imagesOnly = (await gqlOk(server, customer, EDIT, { id, input: { images: [body.urls[1]] } })).editTicket;
      expect(imagesOnly).toMatchObject({ content: 'new content', images: [body.urls[1]] });

      const before = await snapshot(server, scheduler, id);
      for (const input of [{}, { content: null, images: null }]) {
        const unchanged = (await gqlOk(server, customer, EDIT, { id, input })).editTicket;
        expect(unchanged).toMatchObject({ content: 'new content', images: [body.urls[1]] });
      }
      // Saying nothing new is not a change: updatedAt stays, no history entry.
      expect(await snapshot(server, scheduler, id)).toEqual(before);

      const cleared = (await gqlOk(server, customer, EDIT, { id, input: { images: [] } })).editTicket;
      expect(cleared).toMatchObject({ content: 'new content', images: [] });
      const after = await snapshot(server, scheduler, id);
      expect(after.history).toEqual(before.history);
      expect(Date.parse(after.updatedAt as string)).toBeGreaterThanOrEqual(Date.parse(before.updatedAt as string));
    });
  });
});
