import fc from 'fast-check';
import http from 'node:http';
import { MAX_JSON_BODY_BYTES } from '../../src/http/route-config';
import { PNG_BYTES } from '../support/http';
import { DATABASES, startServer, type TestServer, type TestUser } from '../support/server';
import { legacy, legacyOk, postForm, postRaw, type LegacyResponse } from '../support/legacy-client';
import { CODE, expectError } from '../support/legacy-shapes';

/**
 * Every refusal of the legacy endpoint: the seed's 403 messages row by row, and each kind of bad
 * input with its status and a message naming the field. Never a 500.
 */
describe.each(DATABASES)('legacy endpoint refusals (%s)', (kind) => {
  let server: TestServer;
  let ticketId: string;
  let replyId: string;
  beforeAll(async () => {
    server = await startServer(kind);
    const { customer } = server.users;
    ticketId = (await legacyOk(server, customer, 'create-ticket', { content: 'Refusals' })).uuid;
    replyId = (await legacyOk(server, customer, 'ticket-reply-create', { uuid: ticketId, reply: { userid: customer.id, content: 'mine' } })).uuid;
  });
  afterAll(() => server?.close());

  const status = async () => (await legacyOk(server, server.users.customer, 'ticket-detail', { uuid: ticketId }))['ticket-detail'].status;

  describe("403: the seed document's messages, word for word", () => {
    type Row = [operation: string, who: keyof TestServer['users'], action: string, fields: () => Record<string, unknown>, message: string];
    const rows: Row[] = [
      ['create', 'staff', 'create-ticket', () => ({ content: 'x' }), 'You are not allowed to create ticket'],
      ['edit content', 'otherCustomer', 'edit-ticket', () => ({ uuid: ticketId, content: 'x' }), 'You are not allowed to edit this ticket'],
      ['detail', 'staff', 'ticket-detail', () => ({ uuid: ticketId }), 'You are not allowed to check this ticket'],
      ['reply create', 'staff', 'ticket-reply-create', () => ({ uuid: ticketId, reply: { content: 'x' } }), 'You are not allowed to check this ticket'],
      ['reply delete', 'scheduler', 'ticket-reply-delete', () => ({ uuid: ticketId, 'reply-uuid': replyId }), 'You are not allowed to delete this reply'],
      [
        'ASSIGNED',
        'customer',
        'edit-ticket',
        () => ({ uuid: ticketId, status: 'ASSIGNED', 'staff-id': server.users.staff.id }),
        'You are not allowed to assign this ticket',
      ],
      ['FIXED', 'staff', 'edit-ticket', () => ({ uuid: ticketId, status: 'FIXED' }), 'You are not allowed to fixed this ticket'],
      ['CLOSED', 'customer', 'edit-ticket', () => ({ uuid: ticketId, status: 'CLOSED' }), 'You are not allowed to close this ticket'],
      ['REOPEN', 'scheduler', 'edit-ticket', () => ({ uuid: ticketId, status: 'REOPEN' }), 'You are not allowed to reopen this ticket'],
      ['IN PROCESSING', 'customer', 'edit-ticket', () => ({ uuid: ticketId, status: 'IN PROCESSING' }), 'You are not allowed to IN PROCESSING this ticket'],
      ['CANCEL', 'otherCustomer', 'edit-ticket', () => ({ uuid: ticketId, status: 'CANCEL' }), 'You are not allowed to cancel this ticket'],
      [
        'REQUEST_INFORMATION',
        'customer',
        'edit-ticket',
        () => ({ uuid: ticketId, status: 'Request Information' }),
        'You are not allowed to request information for this ticket',
      ],
      ['list as staff', 'customer', 'list', () => ({ operator: 'staff' }), 'You are not allowed to list tickets as staff'],
      ['list as customer', 'staff', 'list', () => ({ operator: 'customer' }), 'You are not allowed to list tickets as customer'],
      ['scheduler-list', 'staff', 'scheduler-list', () => ({ operator: 'scheduler' }), 'You are not allowed to list tickets as scheduler'],
    ];

    it.each(rows)('%s by %s', async (_operation, who, action, fields, message) => {
      expectError(await legacy(server, server.users[who], action, fields()), 403, message);
      expect(await status()).toBe(CODE.NEW);
    });
  });

  describe('400: malformed bodies', () => {
    it.each([
      ['malformed JSON', '{"action": "list",\n "operator": }', /^Malformed JSON body: expected a value but found "}" at line 2, column 14$/],
      ['a missing comma on one line', '{"action": "list" "operator": "customer"}', /^Malformed JSON body: expected "," or "}"/],
      ['an unclosed string', '{"action": "list}', /^Malformed JSON body: this string is never closed at line 1, column 12$/],
      ['an array', '["list"]', /^The body must be a JSON object/],
      ['a string', '"list"', /^The body must be a JSON object/],
      ['null', 'null', /^The request body is empty/],
      ['an empty body', '', /^The request body is empty/],
      ['only whitespace', '  \n ', /^The request body is empty/],
    ])('%s', async (_name, body, message) => {
      expectError(await postRaw(server, body), 400, message);
    });

    it('a body without any content type', async () => {
      expectError(await postRaw(server, '', null), 400, /^The request body is empty/);
    });

    it.each([
      ['a missing action', {}, /^action is required/],
      ['a numeric action', { action: 5 }, /^action must be a string/],
      ['an object action', { action: { name: 'list' } }, /^action must be a string/],
      [
        'an unknown action',
        { action: 'delete-everything' },
        /^Unknown action "delete-everything": expected one of permission-check, create-ticket, edit-ticket, list, scheduler-list, ticket-detail, ticket-reply-create, ticket-reply-delete$/,
      ],
    ])('%s', async (_name, body, message) => {
      expectError(await postRaw(server, JSON.stringify({ ...body, credential: server.users.customer.credential })), 400, message);
    });

    it.each([
      ['no boundary', 'multipart/form-data', 'garbage'],
      ['no parts', 'multipart/form-data; boundary=xyz', 'garbage'],
      ['a form cut short', 'multipart/form-data; boundary=xyz', '--xyz\r\nContent-Disposition: form-data; name="action"\r\n\r\ncreate-ticket\r\n--xyz'],
      ['a prototype field name', 'multipart/form-data; boundary=xyz', '--xyz\r\nContent-Disposition: form-data; name="constructor"\r\n\r\nx\r\n--xyz--\r\n'],
    ])('a malformed multipart body: %s', async (_name, contentType, body) => {
      expectError(await postRaw(server, body, contentType), 400, /^(Malformed multipart\/form-data body: \w|prototype property is not allowed)/);
    });

    it.each([['text/plain'], ['application/x-www-form-urlencoded'], ['application/json; charset=utf-8'], [null]])(
      'JSON sent as %s is read as JSON',
      async (contentType) => {
        const answer = await postRaw(server, `{'action': 'permission-check', 'credential': '${server.users.customer.credential}',}`, contentType);
        expect(answer.body).toEqual({ userid: String(server.users.customer.id), operator: ['customer'] });
      },
    );

    it('only on this route: GraphQL keeps strict JSON', async () => {
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: "{'query': '{ me { id } }'}",
      });
      expect(response.status).toBe(400);
    });

    it('other methods than POST: 405 in the same shape', async () => {
      const response = await fetch(`${server.url}/api/ticket`);
      expect({ status: response.status, allow: response.headers.get('allow'), body: await response.json() }).toEqual({
        status: 405,
        allow: 'POST',
        body: { code: 405, message: 'Use POST for /api/ticket' },
      });
    });

    it('multipart for an action that takes JSON', async () => {
      expectError(
        await postForm(server, { action: 'list', credential: server.users.customer.credential, operator: 'customer' }),
        400,
        /^list takes a JSON body/,
      );
    });
  });

  describe('401: credentials', () => {
    it.each([
      ['missing', undefined],
      ['null', null],
      ['an object', { username: 'customer' }],
      ['a number', 1234],
      ['not hex', 'not a credential'],
      ['hex of garbage', 'abcdef'],
    ])('%s', async (_name, credential) => {
      expectError(await postRaw(server, JSON.stringify({ action: 'permission-check', credential })), 401, 'Invalid credential');
    });

    it('a wrong password, and an unknown user, with the same message', async () => {
      expectError(await legacy(server, { credential: server.credential('customer', 'wrong') }, 'permission-check'), 401, 'Invalid credential');
      expectError(await legacy(server, { credential: server.credential('nobody', 'wrong') }, 'permission-check'), 401, 'Invalid credential');
    });
  });

  describe('400: fields missing or of the wrong type, naming the field', () => {
    type Case = [description: string, action: string, fields: () => Record<string, unknown>, message: RegExp];
    const cases: Case[] = [
      ['create: content missing', 'create-ticket', () => ({}), /^content is required$/],
      ['create: content an object', 'create-ticket', () => ({ content: { text: 'x' } }), /^content must be a string$/],
      ['create: content a number', 'create-ticket', () => ({ content: 123 }), /^content must be a string$/],
      ['create: content blank', 'create-ticket', () => ({ content: '  ' }), /^content must not be empty$/],
      ['create: content too long', 'create-ticket', () => ({ content: 'x'.repeat(65_537) }), /^content must be at most 65536 characters$/],
      ['create: images a string', 'create-ticket', () => ({ content: 'x', images: 'abc' }), /^images must be an array$/],
      ['create: an image a number', 'create-ticket', () => ({ content: 'x', images: [123] }), /^images\[0\] must be a string$/],
      [
        'create: an image not an image',
        'create-ticket',
        () => ({ content: 'x', images: [Buffer.from('hello world, not a picture').toString('base64')] }),
        /^images\[0\]/,
      ],
      ['create: eleven images', 'create-ticket', () => ({ content: 'x', images: Array(11).fill(PNG_BYTES.toString('base64')) }), /images/],
      ['create: status other than new', 'create-ticket', () => ({ content: 'x', status: 'fixed' }), /^status must be "new" or absent/],
      ['create: status an object', 'create-ticket', () => ({ content: 'x', status: {} }), /^status must be "new" or absent/],
      ['edit: uuid missing', 'edit-ticket', () => ({ content: 'x' }), /^uuid is required$/],
      ['edit: uuid an object', 'edit-ticket', () => ({ uuid: {}, content: 'x' }), /^uuid must be a UUID$/],
      ['edit: uuid not a uuid', 'edit-ticket', () => ({ uuid: '123456', content: 'x' }), /^uuid must be a UUID$/],
      ['edit: content a number', 'edit-ticket', () => ({ uuid: ticketId, content: 5 }), /^content must be a string$/],
      ['edit: an image URL of nothing', 'edit-ticket', () => ({ uuid: ticketId, images: ['http://img.png'] }), /^images\[0\]/],
      ['edit: an unknown status', 'edit-ticket', () => ({ uuid: ticketId, status: 'bogus' }), /^status must be a ticket status/],
      ['edit: status NEW', 'edit-ticket', () => ({ uuid: ticketId, status: 'new' }), /^status "new" is not a change a ticket can make/],
      ['edit: status an array', 'edit-ticket', () => ({ uuid: ticketId, status: ['FIXED'] }), /^status must be a ticket status/],
      [
        'edit: status and content together',
        'edit-ticket',
        () => ({ uuid: ticketId, status: 'cancel', content: 'x' }),
        /^edit-ticket changes either content\/images or status/,
      ],
      [
        'edit: staff-id not a number',
        'edit-ticket',
        () => ({ uuid: ticketId, status: 'ASSIGNED', 'staff-id': 'abc' }),
        /^staff-id must be a positive integer user id$/,
      ],
      [
        'edit: staff-id an object',
        'edit-ticket',
        () => ({ uuid: ticketId, status: 'ASSIGNED', 'staff-id': { id: 1 } }),
        /^staff-id must be a positive integer/,
      ],
      [
        'edit: staff-id without ASSIGNED',
        'edit-ticket',
        () => ({ uuid: ticketId, status: 'FIXED', 'staff-id': server.users.staff.id }),
        /^staff-id is only accepted with status ASSIGNED$/,
      ],
      ['list: operator missing', 'list', () => ({}), /^operator is required: "customer" or "staff"$/],
      ['list: operator unknown', 'list', () => ({ operator: 'admin' }), /^operator must be "customer" or "staff", not "admin"$/],
      ['list: operator an object', 'list', () => ({ operator: {} }), /^operator must be/],
      ['list: operator scheduler', 'list', () => ({ operator: 'scheduler' }), /^operator must be "customer" or "staff"/],
      ['list: status unknown', 'list', () => ({ operator: 'customer', status: 'bogus' }), /^status must be "ALL", 0, or a ticket status/],
      ['list: status an object', 'list', () => ({ operator: 'customer', status: { is: 1 } }), /^status must be "ALL"/],
      ['list: page 0', 'list', () => ({ operator: 'customer', page: 0 }), /^page must be an integer from 1 to/],
      ['list: page a fraction', 'list', () => ({ operator: 'customer', page: 1.5 }), /^page must be an integer/],
      ['list: page a word', 'list', () => ({ operator: 'customer', page: 'two' }), /^page must be an integer/],
      ['list: page-size too large', 'list', () => ({ operator: 'customer', 'page-size': 101 }), /^page-size must be an integer from 1 to 100/],
      ['list: page-size 0', 'list', () => ({ operator: 'customer', 'page-size': 0 }), /^page-size must be an integer/],
      ['scheduler-list: operator customer', 'scheduler-list', () => ({ operator: 'customer' }), /^operator must be "scheduler"/],
      ['detail: uuid missing', 'ticket-detail', () => ({}), /^uuid is required$/],
      ['detail: uuid a number', 'ticket-detail', () => ({ uuid: 123456 }), /^uuid must be a UUID$/],
      ['reply: reply missing', 'ticket-reply-create', () => ({ uuid: ticketId }), /^reply is required$/],
      ['reply: reply a string', 'ticket-reply-create', () => ({ uuid: ticketId, reply: 'hello' }), /^reply must be an object/],
      ['reply: reply an array', 'ticket-reply-create', () => ({ uuid: ticketId, reply: ['hello'] }), /^reply must be an object/],
      ['reply: content missing', 'ticket-reply-create', () => ({ uuid: ticketId, reply: {} }), /^reply\.content is required$/],
      ['reply: content a number', 'ticket-reply-create', () => ({ uuid: ticketId, reply: { content: 5 } }), /^reply\.content must be a string$/],
      ['reply: content an object', 'ticket-reply-create', () => ({ uuid: ticketId, reply: { content: {} } }), /^reply\.content must be a string$/],
      [
        'reply: userid not a number',
        'ticket-reply-create',
        () => ({ uuid: ticketId, reply: { userid: 'me', content: 'x' } }),
        /^reply\.userid must be a positive integer/,
      ],
      ['reply delete: reply-uuid missing', 'ticket-reply-delete', () => ({ uuid: ticketId }), /^reply-uuid is required$/],
      ['reply delete: reply-uuid not a uuid', 'ticket-reply-delete', () => ({ uuid: ticketId, 'reply-uuid': '1234567' }), /^reply-uuid must be a UUID$/],
    ];

    it.each(cases)('%s', async (_description, action, fields, message) => {
      expectError(await legacy(server, server.users.customer, action, fields()), 400, message);
    });

    it("assign: staff-id missing, or not a staff member (the service's message, legacy field name)", async () => {
      const { scheduler, customer } = server.users;
      expectError(await legacy(server, scheduler, 'edit-ticket', { uuid: ticketId, status: 'ASSIGNED' }), 400, 'staff-id is required to assign a ticket');
      expectError(
        await legacy(server, scheduler, 'edit-ticket', { uuid: ticketId, status: 'ASSIGNED', 'staff-id': customer.id }),
        400,
        `staff-id: User ${customer.id} is not a staff member`,
      );
      expect(await status()).toBe(CODE.NEW);
    });
  });

  describe("403, 404 and 409 from the request's content", () => {
    const unknown = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';

    it('a reply userid that is not the caller: 403, and no reply is added', async () => {
      const { customer, staff } = server.users;
      const before = (await legacyOk(server, customer, 'ticket-detail', { uuid: ticketId }))['ticket-detail'].reply.length;
      expectError(
        await legacy(server, customer, 'ticket-reply-create', { uuid: ticketId, reply: { userid: staff.id, content: 'as someone else' } }),
        403,
        `You are not allowed to reply as user ${staff.id}: reply.userid must be your own user id`,
      );
      // Its own id, as a number or a numeric string, is fine.
      await legacyOk(server, customer, 'ticket-reply-create', { uuid: ticketId, reply: { userid: String(customer.id), content: 'as myself' } });
      expect((await legacyOk(server, customer, 'ticket-detail', { uuid: ticketId }))['ticket-detail'].reply).toHaveLength(before + 1);
    });

    it.each([
      ['edit-ticket', { uuid: unknown, content: 'x' }, 'Ticket not found'],
      ['edit-ticket', { uuid: unknown, status: 'cancel' }, 'Ticket not found'],
      ['ticket-detail', { uuid: unknown }, 'Ticket not found'],
      ['ticket-reply-create', { uuid: unknown, reply: { content: 'x' } }, 'Ticket not found'],
      ['ticket-reply-delete', { uuid: unknown, 'reply-uuid': unknown }, 'Reply not found'],
    ])('404: %s of an unknown uuid', async (action, fields, message) => {
      expectError(await legacy(server, server.users.customer, action, fields), 404, message);
    });

    it('404: a reply named under another ticket', async () => {
      const { customer } = server.users;
      const other = (await legacyOk(server, customer, 'create-ticket', { content: 'another' })).uuid;
      expectError(await legacy(server, customer, 'ticket-reply-delete', { uuid: other, 'reply-uuid': replyId }), 404, 'Reply not found');
    });

    it.each([
      ['REOPEN', 'customer', 'Cannot change ticket status from NEW to REOPEN'],
      ['FIXED', 'staff', 'Cannot change ticket status from CANCEL to FIXED'],
      ['CLOSED', 'scheduler', 'Cannot change ticket status from NEW to CLOSED'],
    ] as const)('409: %s from the wrong status', async (target, who, message) => {
      const { customer, scheduler, staff } = server.users;
      const uuid = (await legacyOk(server, customer, 'create-ticket', { content: `409 ${target}` })).uuid;
      if (who === 'staff') {
        await legacyOk(server, scheduler, 'edit-ticket', { uuid, status: 'ASSIGNED', 'staff-id': staff.id });
        await legacyOk(server, scheduler, 'edit-ticket', { uuid, status: 'CANCEL' });
      }
      expectError(await legacy(server, server.users[who], 'edit-ticket', { uuid, status: target }), 409, message);
    });

    it('409: editing content of a cancelled ticket, and replying to it', async () => {
      const { customer } = server.users;
      const uuid = (await legacyOk(server, customer, 'create-ticket', { content: 'to cancel' })).uuid;
      await legacyOk(server, customer, 'edit-ticket', { uuid, status: 'CANCELLED' });
      expectError(await legacy(server, customer, 'edit-ticket', { uuid, content: 'late' }), 409, 'Cannot edit a ticket in status CANCEL');
      expectError(
        await legacy(server, customer, 'ticket-reply-create', { uuid, reply: { content: 'late' } }),
        409,
        'Cannot reply to a ticket in status CANCEL',
      );
    });
  });

  describe('413 and 429', () => {
    it('413: a declared body over the limit is refused before it is read', async () => {
      const answer = await postUnfinished(server.url, { 'content-type': 'application/json', 'content-length': String(MAX_JSON_BODY_BYTES + 1) });
      expectError(answer, 413, 'The request body is too large');
    });

    it('413: a streamed (chunked) body over the limit', async () => {
      const answer = await postUnfinished(
        server.url,
        { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        MAX_JSON_BODY_BYTES + 1024 * 1024,
      );
      expectError(answer, 413, 'The request body is too large');
    });

    it('413: an image file part over 10 MiB', async () => {
      const big = Buffer.concat([PNG_BYTES, Buffer.alloc(10 * 1024 * 1024)]);
      const answer = await postForm(server, { action: 'create-ticket', credential: server.users.customer.credential, content: 'big' }, [{ bytes: big }]);
      expectError(answer, 413, 'An image is larger than 10 MiB');
    });

    it('429 after ten failed logins in a row for one username, with Retry-After', async () => {
      const wrong = { credential: server.credential('locked-out', 'wrong password') };
      for (let attempt = 1; attempt <= 10; attempt++) expectError(await legacy(server, wrong, 'permission-check'), 401, 'Invalid credential');
      const locked = await legacy(server, wrong, 'permission-check');
      expectError(locked, 429, /retry later/i);
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
      // Other users are not locked out.
      await legacyOk(server, server.users.customer, 'permission-check');
    });
  });

  it('never answers 500, whatever the fields (property)', async () => {
    const actions = [
      'permission-check',
      'create-ticket',
      'edit-ticket',
      'list',
      'scheduler-list',
      'ticket-detail',
      'ticket-reply-create',
      'ticket-reply-delete',
    ];
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom('ALL', 0, 'new', 'ASSIGNED', 'cancel', 'customer', 'staff', 'scheduler', '', '-1', 1e308, -0, '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'),
      fc.constant(ticketId),
    );
    const fieldNames = ['uuid', 'content', 'images', 'status', 'staff-id', 'operator', 'page', 'page-size', 'reply', 'reply-uuid', 'userid'];
    const users: TestUser[] = Object.values(server.users);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...actions),
        fc.dictionary(fc.constantFrom(...fieldNames), value, { maxKeys: 5 }),
        fc.constantFrom(...users),
        async (action, fields, user) => {
          const answer: LegacyResponse = await legacy(server, user, action, fields);
          expect(answer.status).toBeLessThan(500);
          if (answer.status !== 200) expect(answer.body).toEqual({ code: answer.status, message: expect.any(String) });
        },
      ),
      { numRuns: 150 },
    );
  });
});

/**
 * POSTs headers and, optionally, `streamBytes` of body in 1 MiB chunks, without waiting for the
 * server to read them all: resolves with the server's answer as soon as it comes.
 */
function postUnfinished(baseUrl: string, headers: Record<string, string>, streamBytes = 0): Promise<LegacyResponse> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${baseUrl}/api/ticket`, { method: 'POST', headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        request.destroy();
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: response.statusCode ?? 0, headers: new Headers(response.headers as Record<string, string>), body: JSON.parse(text) });
      });
    });
    // The server may close the connection once it has answered: that is the point.
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    request.write('{"action": "create-ticket", "content": "');
    const chunk = Buffer.alloc(1024 * 1024, 'a');
    let sent = 0;
    const pump = () => {
      while (sent < streamBytes && !request.destroyed) {
        sent += chunk.length;
        if (!request.write(chunk)) {
          request.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}
