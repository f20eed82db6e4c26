import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { GIF_BYTES, PNG_BYTES } from '../support/http';
import { DATABASES, startServer, type TestServer, type TestUser } from '../support/server';

/**
 * `Idempotency-Key` on ticket creation, through GraphQL (`createTicket`) and the legacy endpoint
 * (`create-ticket`), on each database: a retried create with the same key returns the first
 * ticket, sequentially and when the retries race; the same key with another request is a
 * CONFLICT; malformed keys are refused naming the header; keys are per user.
 */

const CREATE = 'mutation($input: CreateTicketInput!) { createTicket(input: $input) { id content status } }';
/** Concurrent retries per race. */
const RACERS = 20;

interface Answer {
  status: number;
  body: any;
}

/**
 * POSTs JSON with arbitrary headers through node:http rather than fetch: fetch would merge a
 * repeated header into one line, and these tests need to send exactly what they say.
 */
function post(server: TestServer, path: string, body: unknown, headers: OutgoingHttpHeaders): Promise<Answer> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${server.url}${path}`,
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': payload.length, ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const keyHeaders = (key: string | string[] | undefined): OutgoingHttpHeaders => (key === undefined ? {} : { 'idempotency-key': key });

const dataUrl = (bytes: Buffer) => `data:image/png;base64,${bytes.toString('base64')}`;

/** A key (and content) unique within a suite: each server starts on an empty database. */
let keySerial = 0;
const newKey = (label: string) => `${label}-${++keySerial}`;

describe.each(DATABASES)('Idempotency-Key on ticket creation (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind);
    // Warm the credential cache so racing requests reach the service together.
    for (const user of [server.users.customer, server.users.otherCustomer, server.users.multi]) {
      await post(server, '/graphql', { query: '{ me { id } }' }, { authorization: `Credential ${user.credential}` });
    }
  });
  afterAll(() => server?.close());

  const graphqlCreate = (user: TestUser, key: string | string[] | undefined, input: Record<string, unknown>) =>
    post(server, '/graphql', { query: CREATE, variables: { input } }, { authorization: `Credential ${user.credential}`, ...keyHeaders(key) });
  const legacyCreate = (user: TestUser, key: string | string[] | undefined, fields: Record<string, unknown>) =>
    post(server, '/api/ticket', { action: 'create-ticket', credential: user.credential, ...fields }, keyHeaders(key));

  /** The id a GraphQL create answered with; fails on errors. */
  const graphqlId = (answer: Answer): string => {
    if (answer.body.errors) throw new Error(`createTicket failed: ${JSON.stringify(answer.body.errors)}`);
    return answer.body.data.createTicket.id as string;
  };
  const legacyId = (answer: Answer): string => {
    if (answer.status !== 200) throw new Error(`create-ticket answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body.uuid as string;
  };

  async function count(sql: string, params: unknown[]): Promise<number> {
    const rows = await server.app.database.orm.em.fork().getConnection().execute<Array<{ n: string | number }>>(sql, params, 'all');
    return Number(rows[0]!.n);
  }
  const ticketsWithContent = (content: string) => count('select count(*) as n from tickets where content = ?', [content]);
  const ticketsOf = (user: TestUser) => count('select count(*) as n from tickets where customer_id = ?', [user.id]);
  /** Creation leaves one history entry and one CREATED event per ticket, and no more. */
  async function expectCreatedOnce(id: string): Promise<void> {
    expect(await count('select count(*) as n from ticket_history where ticket_id = ? and status = 1', [id])).toBe(1);
    expect(await count("select count(*) as n from ticket_events where ticket_id = ? and kind = 'CREATED'", [id])).toBe(1);
  }

  describe('sequential retries', () => {
    it('GraphQL: the retry returns the first ticket, as it is now', async () => {
      const key = newKey('gql');
      const content = `printer on fire ${key}`;
      const first = graphqlId(await graphqlCreate(server.users.customer, key, { content }));
      // Something happens to the ticket between the two attempts: the retry shows it.
      await post(
        server,
        '/graphql',
        { query: 'mutation($id: ID!) { cancelTicket(id: $id) { id } }', variables: { id: first } },
        { authorization: `Credential ${server.users.customer.credential}` },
      );
      const retry = await graphqlCreate(server.users.customer, key, { content });
      expect(retry.body.data.createTicket).toEqual({ id: first, content, status: 'CANCEL' });
      expect(await ticketsWithContent(content)).toBe(1);
      await expectCreatedOnce(first);
    });

    it('legacy: the retry answers the first {"uuid"}', async () => {
      const key = newKey('legacy');
      const content = `scanner jammed ${key}`;
      const first = legacyId(await legacyCreate(server.users.customer, key, { content, images: [PNG_BYTES.toString('base64')] }));
      const retry = await legacyCreate(server.users.customer, key, { content, images: [PNG_BYTES.toString('base64')] });
      expect(retry).toEqual({ status: 200, body: { uuid: first } });
      expect(await ticketsWithContent(content)).toBe(1);
      await expectCreatedOnce(first);
    });

    it('a key is per user, not per transport: a legacy retry of a GraphQL create returns it', async () => {
      const key = newKey('cross');
      const content = `cross-transport ${key}`;
      const first = graphqlId(await graphqlCreate(server.users.customer, key, { content, images: [dataUrl(PNG_BYTES)] }));
      expect(legacyId(await legacyCreate(server.users.customer, key, { content, images: [dataUrl(PNG_BYTES)] }))).toBe(first);
      expect(await ticketsWithContent(content)).toBe(1);
    });

    it('without a key, or with a new key, every create files a new ticket', async () => {
      const content = `no key ${newKey('none')}`;
      const a = graphqlId(await graphqlCreate(server.users.customer, undefined, { content }));
      const b = graphqlId(await graphqlCreate(server.users.customer, undefined, { content }));
      const c = graphqlId(await graphqlCreate(server.users.customer, newKey('fresh'), { content }));
      const d = graphqlId(await graphqlCreate(server.users.customer, newKey('fresh'), { content }));
      expect(new Set([a, b, c, d]).size).toBe(4);
    });

    it('a refused create does not use up its key: the corrected retry creates', async () => {
      const key = newKey('refused');
      const bad = await graphqlCreate(server.users.customer, key, { content: '   ' });
      expect(bad.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'content' });
      const refusedImage = await legacyCreate(server.users.customer, key, { content: 'x', images: ['not an image at all'] });
      expect(refusedImage.status).toBe(400);
      const content = `corrected ${key}`;
      const id = graphqlId(await graphqlCreate(server.users.customer, key, { content }));
      expect(graphqlId(await graphqlCreate(server.users.customer, key, { content }))).toBe(id);
    });

    it('a key older than the retention period is forgotten (and its row deleted) on the next create', async () => {
      const key = newKey('expired');
      const content = `old ${key}`;
      const first = graphqlId(await graphqlCreate(server.users.customer, key, { content }));
      await server.app.database.orm.em
        .fork()
        .getConnection()
        .execute("update idempotency_keys set created_at = now() - interval '25 hours' where user_id = ? and key = ?", [server.users.customer.id, key], 'run');
      const second = graphqlId(await graphqlCreate(server.users.customer, key, { content }));
      expect(second).not.toBe(first);
      expect(await count('select count(*) as n from idempotency_keys where user_id = ? and key = ?', [server.users.customer.id, key])).toBe(1);
      // Still within the period: remembered.
      expect(graphqlId(await graphqlCreate(server.users.customer, key, { content }))).toBe(second);
    });
  });

  describe('concurrent retries', () => {
    it(`GraphQL: ${RACERS} racing creates with one key make one ticket, and all answer it`, async () => {
      const key = newKey('gql-race');
      const content = `race ${key}`;
      const imagesBefore = await count('select count(*) as n from images where uploader_id = ?', [server.users.customer.id]);
      const answers = await Promise.all(
        Array.from({ length: RACERS }, () => graphqlCreate(server.users.customer, key, { content, images: [dataUrl(GIF_BYTES)] })),
      );
      const ids = new Set(answers.map(graphqlId));
      expect(ids.size).toBe(1);
      expect(await ticketsWithContent(content)).toBe(1);
      await expectCreatedOnce([...ids][0]!);
      // The inline image was stored once: replays store nothing.
      expect(await count('select count(*) as n from images where uploader_id = ?', [server.users.customer.id])).toBe(imagesBefore + 1);
    });

    it(`legacy and GraphQL: ${RACERS} racing creates with one key make one ticket`, async () => {
      const key = newKey('mixed-race');
      const content = `mixed race ${key}`;
      const answers = await Promise.all(
        Array.from({ length: RACERS }, (_, index) =>
          index % 2
            ? legacyCreate(server.users.customer, key, { content }).then(legacyId)
            : graphqlCreate(server.users.customer, key, { content }).then(graphqlId),
        ),
      );
      expect(new Set(answers).size).toBe(1);
      expect(await ticketsWithContent(content)).toBe(1);
    });

    it('racing creates with one key and two different bodies: one ticket; the other body is a CONFLICT', async () => {
      const key = newKey('split-race');
      const [contentA, contentB] = [`body A ${key}`, `body B ${key}`];
      const answers = await Promise.all(
        Array.from({ length: RACERS }, (_, index) => legacyCreate(server.users.customer, key, { content: index % 2 ? contentA : contentB })),
      );
      const total = (await ticketsWithContent(contentA)) + (await ticketsWithContent(contentB));
      expect(total).toBe(1);
      const winner = (await ticketsWithContent(contentA)) === 1 ? 1 : 0;
      for (const [index, answer] of answers.entries()) {
        if (index % 2 === winner) expect(answer.status).toBe(200);
        else expect(answer).toMatchObject({ status: 409, body: { code: 409 } });
      }
      expect(new Set(answers.filter((answer) => answer.status === 200).map(legacyId)).size).toBe(1);
    });
  });

  describe('the same key with a different request', () => {
    it.each([
      ['other content', { content: 'first words' }, { content: 'other words' }],
      ['an added image', { content: 'same words' }, { content: 'same words', images: [dataUrl(PNG_BYTES)] }],
      ['another image', { content: 'same words', images: [dataUrl(PNG_BYTES)] }, { content: 'same words', images: [dataUrl(GIF_BYTES)] }],
      [
        'images in another order',
        { content: 'same words', images: [dataUrl(PNG_BYTES), dataUrl(GIF_BYTES)] },
        { content: 'same words', images: [dataUrl(GIF_BYTES), dataUrl(PNG_BYTES)] },
      ],
    ])('%s: CONFLICT (GraphQL) and 409 (legacy), saying the key was used for a different request', async (_label, first, second) => {
      const key = newKey('mismatch');
      const id = graphqlId(await graphqlCreate(server.users.customer, key, first));
      const before = await ticketsOf(server.users.customer);
      const message = 'This Idempotency-Key was already used for a different request: use a new key for a new ticket';
      const viaGraphql = await graphqlCreate(server.users.customer, key, second);
      expect(viaGraphql.body.data).toBeNull();
      expect(viaGraphql.body.errors[0]).toMatchObject({ message, extensions: { code: 'CONFLICT' } });
      expect(await legacyCreate(server.users.customer, key, second)).toEqual({ status: 409, body: { code: 409, message } });
      expect(await ticketsOf(server.users.customer)).toBe(before);
      // The first request still replays.
      expect(graphqlId(await graphqlCreate(server.users.customer, key, first))).toBe(id);
    });

    it('one GraphQL document with several creates under one key: identical ones are one ticket, a different one is a CONFLICT', async () => {
      const key = newKey('document');
      const query = `mutation($a: CreateTicketInput!, $b: CreateTicketInput!) {
        first: createTicket(input: $a) { id } again: createTicket(input: $a) { id } other: createTicket(input: $b) { id } }`;
      const answer = await post(
        server,
        '/graphql',
        { query, variables: { a: { content: `doc A ${key}` }, b: { content: `doc B ${key}` } } },
        { authorization: `Credential ${server.users.customer.credential}`, 'idempotency-key': key },
      );
      // Mutation fields run in order: `first` files, `again` replays it, `other` is refused. The
      // fields are non-null, so GraphQL answers `data: null` for the whole document.
      expect(answer.body.data).toBeNull();
      expect(answer.body.errors).toHaveLength(1);
      expect(answer.body.errors[0]).toMatchObject({ path: ['other'], extensions: { code: 'CONFLICT' } });
      expect(await ticketsWithContent(`doc A ${key}`)).toBe(1);
      expect(await ticketsWithContent(`doc B ${key}`)).toBe(0);
    });
  });

  describe('malformed keys', () => {
    it.each<[string, string | string[]]>([
      ['empty', ''],
      ['longer than 255 characters', 'k'.repeat(256)],
      ['a tab', 'tab\there'],
      ['a non-ASCII character', 'caf\u00e9'],
      ['the header twice', ['one', 'two']],
    ])('%s: 400 (legacy) and BAD_USER_INPUT (GraphQL) naming Idempotency-Key; nothing created', async (_label, key) => {
      const before = await ticketsOf(server.users.customer);
      const legacyAnswer = await legacyCreate(server.users.customer, key, { content: 'with a bad key' });
      expect(legacyAnswer.status).toBe(400);
      expect(legacyAnswer.body.code).toBe(400);
      expect(legacyAnswer.body.message).toMatch(/Idempotency-Key/);
      const graphqlAnswer = await graphqlCreate(server.users.customer, key, { content: 'with a bad key' });
      expect(graphqlAnswer.status).toBe(200);
      expect(graphqlAnswer.body.errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'Idempotency-Key' });
      expect(graphqlAnswer.body.errors[0].message).toMatch(/Idempotency-Key/);
      expect(await ticketsOf(server.users.customer)).toBe(before);
    });

    it('keys of 1 and 255 printable characters, spaces and quotes included, are accepted literally', async () => {
      for (const key of ['~', 'k'.repeat(255), '"a quoted key"', 'a quoted key']) {
        const content = `edge key ${JSON.stringify(key).slice(0, 20)}`;
        const id = graphqlId(await graphqlCreate(server.users.customer, key, { content }));
        expect(graphqlId(await graphqlCreate(server.users.customer, key, { content }))).toBe(id);
        expect(await ticketsWithContent(content)).toBe(1);
      }
    });

    it('the header is ignored by operations other than create', async () => {
      const id = graphqlId(await graphqlCreate(server.users.customer, undefined, { content: 'edit me' }));
      const answer = await post(
        server,
        '/api/ticket',
        { action: 'edit-ticket', credential: server.users.customer.credential, uuid: id, content: 'edited' },
        { 'idempotency-key': '' },
      );
      expect(answer).toEqual({ status: 200, body: { uuid: id } });
    });
  });

  describe('keys belong to users', () => {
    it('different users with the same key and body file their own tickets', async () => {
      const key = newKey('shared');
      const content = `same key, two users ${key}`;
      const [mine, theirs, third] = await Promise.all([
        graphqlCreate(server.users.customer, key, { content }).then(graphqlId),
        legacyCreate(server.users.otherCustomer, key, { content }).then(legacyId),
        graphqlCreate(server.users.multi, key, { content }).then(graphqlId),
      ]);
      expect(new Set([mine, theirs, third]).size).toBe(3);
      expect(await ticketsWithContent(content)).toBe(3);
      // Each replays its own.
      expect(legacyId(await legacyCreate(server.users.customer, key, { content }))).toBe(mine);
      expect(graphqlId(await graphqlCreate(server.users.otherCustomer, key, { content }))).toBe(theirs);
    });

    it("another user's key with a different body is not a conflict", async () => {
      const key = newKey('independent');
      graphqlId(await graphqlCreate(server.users.customer, key, { content: `mine ${key}` }));
      graphqlId(await graphqlCreate(server.users.otherCustomer, key, { content: `theirs ${key}` }));
    });

    it('a user who may not create is refused before the key is looked at', async () => {
      const key = newKey('staff');
      const answer = await legacyCreate(server.users.staff, key, { content: 'staff cannot file' });
      expect(answer).toEqual({ status: 403, body: { code: 403, message: 'You are not allowed to create ticket' } });
      expect(await count('select count(*) as n from idempotency_keys where user_id = ?', [server.users.staff.id])).toBe(0);
    });
  });
});
