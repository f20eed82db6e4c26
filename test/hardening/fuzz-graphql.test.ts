import fc from 'fast-check';
import WebSocket from 'ws';
import { encodeTicketCursor, NEWEST_FIRST } from '../../src/modules/ticket/ticket-order';
import { encodeEventCursor } from '../../src/modules/event/event-cursor';
import { defaultActors, PNG_BYTES, STATUS_NAMES, ticketIn, TICKET_FIELDS, upload } from '../support/http';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { connect, EventStream, subscribers, wsUrl, type LiveClient } from '../support/live-client';
import {
  actingUser,
  bounded,
  credentialChoice,
  CredentialBudget,
  fingerprint,
  fingerprintChange,
  FuzzTally,
  junkJson,
  nastyString,
  notAUuid,
  randomUuid,
  type CredentialChoice,
} from '../support/fuzz';

/**
 * Generated GraphQL requests against the real server, on each database: every query and
 * mutation with variables of the right type, the wrong type and odd values (NUL, lone
 * surrogates, 65,537 characters, ids and cursors of nothing or of junk), the same values inlined
 * as literals, mangled documents, abusive documents, and bodies that are not GraphQL requests at
 * all; then `ticketEvents` subscriptions over graphql-ws with generated arguments and connection
 * params, and raw WebSocket frames of junk.
 *
 * Never a 5xx, never INTERNAL_SERVER_ERROR, never a stack trace, no success without a valid
 * credential; one request at a time with a database fingerprint after each, so every refused
 * request is shown to have changed nothing.
 */

const SEQUENTIAL = { runs: 1500, ms: 7_000 };
/** Sequential inputs run whatever the time budget allows (the checks below want more than 50). */
const MIN_INPUTS = 60;
const BURSTS = { runs: 150, ms: 3_000, size: 8 };
const SUBSCRIPTIONS = { runs: 60, ms: 3_000, batch: 10 };
const FRAMES = { runs: 150, ms: 2_000 };

const USER_NAMES = ['customer', 'otherCustomer', 'staff', 'otherStaff', 'scheduler', 'multi', 'admin'] as const;

/** Statuses a GraphQL request may be answered with: success, bad request, method, size, media type, throttle. */
// 401: a wrong or malformed Authorization header is refused before the body is read (issue 9).
/** 431: Node's HTTP parser refuses headers over 16 KiB (a huge junk credential) before any route sees them. */
/** 414: a GET whose query string carries more than the request line may hold (request-guards.ts). */
const GRAPHQL_STATUSES = new Set([200, 400, 401, 405, 413, 414, 415, 429, 431]);
/** extensions.code values an answer may carry: the domain's and GraphQL's own. */
const ALLOWED_CODES = new Set([
  'BAD_USER_INPUT',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'PAYLOAD_TOO_LARGE',
  'TOO_MANY_REQUESTS',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);
const LEAK = /\n\s+at |\bat [\w.<>]+ \(|\.ts:\d+|node_modules|stacktrace/i;

/** A value for a variable: a real thing of the server's (resolved when sent) or a raw value. */
type Value =
  | { t: 'ticket' | 'reply' | 'cursor' | 'event-cursor'; i: number }
  | { t: 'user'; name: (typeof USER_NAMES)[number] }
  | { t: 'image'; own: boolean }
  | { t: 'raw'; v: unknown };

const raw = (arbitrary: fc.Arbitrary<unknown>): fc.Arbitrary<Value> => arbitrary.map((v) => ({ t: 'raw' as const, v }));
const real = (t: 'ticket' | 'reply' | 'cursor' | 'event-cursor'): fc.Arbitrary<Value> => fc.nat().map((i) => ({ t, i }));

const forgedCursor = fc.oneof(
  fc.string({ maxLength: 40 }).map((text) => Buffer.from(`ticket:${text}`).toString('base64url')),
  randomUuid.map((id) => Buffer.from(`ticket:${id}`).toString('base64')),
  fc.uint8Array({ maxLength: 48 }).map((bytes) => Buffer.from(bytes).toString('base64url')),
  fc.nat().map((seq) => Buffer.from(`event:${seq}`).toString('base64url')),
  fc.constantFrom('', '====', 'ticket:', 'event:1', 'ZXZlbnQ6MA', 'x'.repeat(5000)),
);

const idValue: fc.Arbitrary<Value> = fc.oneof(
  { arbitrary: real('ticket'), weight: 6 },
  { arbitrary: real('reply'), weight: 1 },
  { arbitrary: raw(randomUuid), weight: 1 },
  { arbitrary: raw(notAUuid), weight: 1 },
  { arbitrary: raw(junkJson), weight: 1 },
);
const textValue: fc.Arbitrary<Value> = fc.oneof({ arbitrary: raw(nastyString), weight: 5 }, { arbitrary: raw(junkJson), weight: 1 });
const staffValue: fc.Arbitrary<Value> = fc.oneof(
  { arbitrary: fc.constantFrom(...USER_NAMES).map((name) => ({ t: 'user' as const, name })), weight: 4 },
  { arbitrary: raw(fc.oneof(fc.integer({ min: -3, max: 2 ** 31 + 3 }).map(String), junkJson)), weight: 1 },
);
const imageValues: fc.Arbitrary<Value> = fc.oneof(
  {
    arbitrary: fc
      .array(
        fc.oneof(
          fc.boolean().map((own): Value => ({ t: 'image', own })),
          raw(
            fc.constantFrom(
              `data:image/png;base64,${PNG_BYTES.toString('base64')}`,
              PNG_BYTES.toString('base64'),
              'http://x/images/00000000-0000-7000-8000-000000000000',
              'data:,',
              'javascript:alert(1)',
            ),
          ),
          raw(nastyString),
        ),
        { maxLength: 12 },
      )
      .map((v): Value => ({ t: 'raw', v })),
    weight: 3,
  },
  { arbitrary: raw(junkJson), weight: 1 },
);
const STATUS_ENUM = ['NEW', 'ASSIGNED', 'FIXED', 'CLOSED', 'REOPEN', 'REQUEST_INFORMATION', 'CANCEL', 'IN_PROCESSING'];

/** Sometimes absent (omitted from variables), mostly present. */
const opt = (arbitrary: fc.Arbitrary<Value>): fc.Arbitrary<Value | undefined> =>
  fc.oneof({ arbitrary, weight: 6 }, { arbitrary: fc.constant(undefined), weight: 1 });

/** An object input whose members are generated values, or junk in its place. */
const inputOf = (members: Record<string, fc.Arbitrary<Value | undefined>>): fc.Arbitrary<Value> =>
  fc.oneof(
    { arbitrary: fc.record(members).map((fields): Value => ({ t: 'raw', v: { __members: fields } })), weight: 6 },
    { arbitrary: raw(junkJson), weight: 1 },
  );

interface Operation {
  readonly field: string;
  readonly kind: 'query' | 'mutation';
  /** Argument name → GraphQL type. */
  readonly args: Readonly<Record<string, string>>;
  readonly selection: string;
  readonly values: fc.Arbitrary<Record<string, Value | undefined>>;
}

const TICKET_SELECTION = `{ ${TICKET_FIELDS} }`;

const OPERATIONS: readonly Operation[] = [
  { field: 'me', kind: 'query', args: {}, selection: '{ id username roles }', values: fc.constant({}) },
  { field: 'ticket', kind: 'query', args: { id: 'ID!' }, selection: TICKET_SELECTION, values: fc.record({ id: opt(idValue) }) },
  {
    field: 'tickets',
    kind: 'query',
    args: { filter: 'TicketFilter', first: 'Int', after: 'String' },
    selection: '{ totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id status permissions { reply edit cancel } } } }',
    values: fc.record({
      filter: opt(
        inputOf({
          status: opt(raw(fc.oneof(fc.array(fc.constantFrom(...STATUS_ENUM, 'new', 'ALL', '', 'IN PROCESSING'), { maxLength: 9 }), junkJson))),
          as: opt(raw(fc.oneof(fc.constantFrom('CUSTOMER', 'STAFF', 'SCHEDULER', 'customer', 'ADMIN', ''), junkJson))),
        }),
      ),
      first: opt(raw(fc.oneof(fc.integer({ min: -5, max: 150 }), fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 1.5, '10'), junkJson))),
      after: opt(fc.oneof(real('cursor'), raw(forgedCursor), raw(junkJson))),
    }),
  },
  {
    field: 'createTicket',
    kind: 'mutation',
    args: { input: 'CreateTicketInput!' },
    selection: TICKET_SELECTION,
    values: fc.record({ input: opt(inputOf({ content: opt(textValue), images: fc.option(imageValues, { nil: undefined, freq: 2 }) })) }),
  },
  {
    field: 'editTicket',
    kind: 'mutation',
    args: { id: 'ID!', input: 'EditTicketInput!' },
    selection: TICKET_SELECTION,
    values: fc.record({
      id: opt(idValue),
      input: opt(inputOf({ content: fc.option(textValue, { nil: undefined, freq: 2 }), images: fc.option(imageValues, { nil: undefined, freq: 2 }) })),
    }),
  },
  {
    field: 'assignTicket',
    kind: 'mutation',
    args: { id: 'ID!', staffId: 'ID!' },
    selection: '{ id status staff { id } }',
    values: fc.record({ id: opt(idValue), staffId: opt(staffValue) }),
  },
  ...['startProcessing', 'requestInformation', 'fixTicket', 'closeTicket', 'reopenTicket', 'cancelTicket'].map((field): Operation => ({
    field,
    kind: 'mutation',
    args: { id: 'ID!' },
    selection: '{ id status history { status } permissions { reply edit assign startProcessing requestInformation fix close reopen cancel } }',
    values: fc.record({ id: opt(idValue) }),
  })),
  {
    field: 'addReply',
    kind: 'mutation',
    args: { ticketId: 'ID!', content: 'String!' },
    selection: '{ id content author { id } createdAt }',
    values: fc.record({ ticketId: opt(idValue), content: opt(textValue) }),
  },
  {
    field: 'deleteReply',
    kind: 'mutation',
    args: { id: 'ID!' },
    selection: '',
    values: fc.record({ id: opt(fc.oneof({ arbitrary: real('reply'), weight: 4 }, { arbitrary: idValue, weight: 2 })) }),
  },
  {
    field: 'createUser',
    kind: 'mutation',
    args: { input: 'CreateUserInput!' },
    selection: '{ id username roles }',
    values: fc.record({
      input: opt(
        inputOf({
          username: opt(raw(fc.oneof(fc.stringMatching(/^[a-z][a-z0-9._@-]{0,20}$/), nastyString, fc.constantFrom('customer', 'admin', 'x'.repeat(65))))),
          password: opt(raw(fc.oneof(fc.constant('long enough password'), nastyString))),
          roles: opt(raw(fc.oneof(fc.array(fc.constantFrom('CUSTOMER', 'STAFF', 'SCHEDULER', 'ADMIN', 'customer'), { maxLength: 5 }), junkJson))),
          admin: fc.option(raw(fc.oneof(fc.boolean(), junkJson)), { nil: undefined, freq: 2 }),
        }),
      ),
    }),
  },
];

/** Documents no client should send: abuse, cycles, wrong operation types, oddities of the language. */
const ODD_DOCUMENTS: readonly string[] = [
  `{ ${Array.from({ length: 300 }, (_, i) => `a${i}: me { id }`).join(' ')} }`,
  `{ me { id ${'@skip(if: false) '.repeat(500)} } }`,
  'query A { ...F } fragment F on Query { ...G } fragment G on Query { ...F }',
  '{ __schema { types { name fields { name args { name } } } } }',
  '{ __typename }',
  'subscription { ticketEvents { cursor kind } }',
  'query A { me { id } } query A { me { id } }',
  '{ me { id } } { me { id } }',
  `{ ticket(id: "${'x'.repeat(1_000_000)}") { id } }`,
  `{ ${'ticket(id: "00000000-0000-7000-8000-000000000000") { id } '.repeat(2)} }`,
  `{ tickets(first: 100) { edges { node { replies { author { id roles } } history { actor { id } } customer { id } } } } }`,
  'mutation { deleteReply(id: "00000000-0000-7000-8000-000000000000") @include(if: true) }',
  '{ me { id } }'.repeat(1000),
  '{'.repeat(5000) + '}'.repeat(5000),
  '# only a comment',
  '',
  'query ($a: ID!) { ticket(id: $b) { id } }',
  'query ($id: String!) { ticket(id: $id) { id } }',
  'query { ticket(id: 1) { id } }',
  'query { ticket(id: null) { id } }',
  'query { tickets(first: 1e100) { totalCount } }',
  'query { tickets(filter: { status: [NEW, BOGUS] }) { totalCount } }',
  'query { me { id } } mutation { cancelTicket(id: "x") { id } }',
];

type Shape = 'variables' | 'literals' | 'mangled' | 'odd-document' | 'odd-body';

interface GraphQLInput {
  operation: number;
  values: Record<string, Value | undefined>;
  credential: CredentialChoice;
  shape: Shape;
  edits: Array<{ at: number; text: string }>;
  odd: number;
}

const graphqlInput: fc.Arbitrary<GraphQLInput> = fc.nat(OPERATIONS.length - 1).chain((operation) =>
  fc.record({
    operation: fc.constant(operation),
    values: OPERATIONS[operation].values,
    credential: credentialChoice(USER_NAMES),
    shape: fc.oneof(
      { arbitrary: fc.constant<Shape>('variables'), weight: 12 },
      { arbitrary: fc.constant<Shape>('literals'), weight: 3 },
      { arbitrary: fc.constantFrom<Shape>('mangled', 'odd-document', 'odd-body'), weight: 1 },
    ),
    edits: fc.array(
      fc.record({ at: fc.nat(), text: fc.constantFrom('', '{', '}', '(', ')', '$', '"', '"""', '\\', '@', '...', '#', ':', '!', '\u0000', 'é') }),
      { minLength: 1, maxLength: 3 },
    ),
    odd: fc.nat(),
  }),
);

/** The text with each edit applied: a piece inserted at a position, or (empty piece) a character deleted. */
function mangle(text: string, edits: ReadonlyArray<{ at: number; text: string }>): string {
  return edits.reduce((current, { at, text: piece }) => {
    const index = at % (current.length + 1);
    return current.slice(0, index) + piece + current.slice(index + (piece === '' ? 1 : 0));
  }, text);
}

/** A GraphQL literal for a JSON-ish value (object keys that are not names are dropped). */
function literal(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '0';
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(literal).join(', ')}]`;
  if (typeof value === 'object') {
    const members = Object.entries(value).filter(([key]) => /^[_A-Za-z][_0-9A-Za-z]*$/.test(key));
    return `{${members.map(([key, member]) => `${key}: ${literal(member)}`).join(', ')}}`;
  }
  return JSON.stringify(String(value));
}

describe.each(DATABASES)('hostile GraphQL requests (%s)', (kind) => {
  let server: TestServer;
  const tally = new FuzzTally();
  const ticketPool: string[] = [];
  const replyPool: string[] = [];
  let images: { own: string; foreign: string };
  const budget = new CredentialBudget(40);
  const clients: LiveClient[] = [];

  beforeAll(async () => {
    server = await startServer(kind);
    const actors = defaultActors(server);
    const made = await Promise.all(STATUS_NAMES.map((status) => ticketIn(server, status, actors, { reply: true })));
    for (const { id, replyId } of made) {
      ticketPool.push(id);
      if (replyId) replyPool.push(replyId);
    }
    images = {
      own: (await upload(server, server.users.customer, [{ bytes: PNG_BYTES }])).body.urls[0],
      foreign: (await upload(server, server.users.otherCustomer, [{ bytes: PNG_BYTES }])).body.urls[0],
    };
  });
  afterAll(async () => {
    console.log(tally.summary(kind));
    await Promise.all(clients.map((client) => client.dispose()));
    await server?.close();
  });

  const pick = (pool: readonly string[], index: number): string => pool[index % pool.length];

  /** A generated value with the server's real ids, users, cursors and images put in. */
  function resolve(value: Value | undefined): unknown {
    if (value === undefined) return undefined;
    switch (value.t) {
      case 'ticket':
        return pick(ticketPool, value.i);
      case 'reply':
        return pick(replyPool, value.i);
      case 'cursor':
        return encodeTicketCursor(NEWEST_FIRST, { key: Date.now(), id: pick(ticketPool, value.i) });
      case 'event-cursor':
        return encodeEventCursor(1 + (value.i % 20));
      case 'user':
        return String(server.users[value.name].id);
      case 'image':
        return value.own ? images.own : images.foreign;
      case 'raw': {
        const v = value.v as { __members?: Record<string, Value | undefined> } | unknown;
        if (typeof v === 'object' && v !== null && '__members' in v) {
          const members = (v as { __members: Record<string, Value | undefined> }).__members;
          return Object.fromEntries(
            Object.entries(members)
              .filter(([, member]) => member !== undefined)
              .map(([name, member]) => [name, resolve(member)]),
          );
        }
        if (Array.isArray(v)) return v.map((each) => (typeof each === 'object' && each !== null && 't' in each ? resolve(each as Value) : each));
        return v;
      }
    }
  }

  interface Sent {
    status: number;
    text: string;
    operation: Operation;
    shape: Shape;
    variables: Record<string, unknown>;
  }

  async function send(input: GraphQLInput): Promise<Sent> {
    const operation = OPERATIONS[input.operation];
    const variables = Object.fromEntries(
      Object.entries(input.values)
        .map(([name, value]) => [name, resolve(value)] as const)
        .filter(([, value]) => value !== undefined),
    );
    const names = Object.keys(operation.args);
    let document: string;
    if (input.shape === 'literals') {
      const args = names.filter((name) => name in variables).map((name) => `${name}: ${literal(variables[name])}`);
      document = `${operation.kind} { ${operation.field}${args.length ? `(${args.join(', ')})` : ''} ${operation.selection} }`;
    } else {
      const declarations = names.map((name) => `$${name}: ${operation.args[name]}`);
      const args = names.map((name) => `${name}: $${name}`);
      document = `${operation.kind}${declarations.length ? `(${declarations.join(', ')})` : ''} { ${operation.field}${args.length ? `(${args.join(', ')})` : ''} ${operation.selection} }`;
    }
    if (input.shape === 'mangled') document = mangle(document, input.edits);
    if (input.shape === 'odd-document') document = ODD_DOCUMENTS[input.odd % ODD_DOCUMENTS.length];

    const credential = budget.resolve(server, input.credential);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (credential !== undefined)
      headers.authorization = `Credential ${typeof credential === 'string' ? credential.replace(/[\r\n]/g, '') : JSON.stringify(credential)}`;
    // Header values must be ByteStrings: junk credentials that are not are sent hex-encoded instead.
    if (headers.authorization && /[^\x20-\x7e]/.test(headers.authorization))
      headers.authorization = `Credential ${Buffer.from(headers.authorization).toString('hex')}ff`;

    let init: RequestInit = {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: document, variables: input.shape === 'literals' ? undefined : variables }),
    };
    let url = `${server.url}/graphql`;
    if (input.shape === 'odd-body') {
      const bodies: Array<() => void> = [
        () => (init = { ...init, body: 'not json' }),
        () => (init = { ...init, body: JSON.stringify([{ query: document, variables }, { query: '{ me { id } }' }]) }),
        () => (init = { ...init, body: JSON.stringify({ query: 42, variables }) }),
        () => (init = { ...init, body: JSON.stringify({ query: document, variables: 'not an object' }) }),
        () => (init = { ...init, body: JSON.stringify({ query: document, variables: [1, 2] }) }),
        () => (init = { ...init, body: JSON.stringify({ query: document, variables, operationName: 'Nope' }) }),
        () => (init = { ...init, body: JSON.stringify({ query: document, variables, extensions: { persistedQuery: { version: 1, sha256Hash: 'abc' } } }) }),
        () => (init = { ...init, body: JSON.stringify({}) }),
        () => (init = { ...init, body: '' }),
        () => (init = { ...init, headers: { ...headers, 'content-type': 'text/plain' } }),
        () => (init = { ...init, headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' } }),
        () => (init = { ...init, headers: { ...headers, 'content-type': 'application/graphql' }, body: document }),
        () => {
          url = `${server.url}/graphql?query=${encodeURIComponent(document)}&variables=${encodeURIComponent(JSON.stringify(variables))}`;
          init = { method: 'GET', headers: { ...headers, 'apollo-require-preflight': 'true' } };
        },
        () => (init = { ...init, body: `{"query": ${JSON.stringify(document)}, "variables": ${'['.repeat(10_000)}${']'.repeat(10_000)}}` }),
        // A `__proto__` member in the JSON text (an object literal's `__proto__` would set the prototype, and never be sent).
        () => {
          const members = JSON.stringify(variables).slice(1, -1);
          init = { ...init, body: `{"query": ${JSON.stringify(document)}, "variables": {"__proto__": {"polluted": true}${members ? `, ${members}` : ''}}}` };
        },
      ];
      bodies[input.odd % bodies.length]();
    }
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(20_000) });
    return { status: response.status, text: await response.text(), operation, shape: input.shape, variables };
  }

  /** What is wrong with an answer, or undefined. Also says whether the operation was applied. */
  function judge(input: GraphQLInput, sent: Sent): { problem?: string; applied: boolean; body?: { data?: Record<string, unknown> | null } } {
    const { status, text, operation } = sent;
    if (!GRAPHQL_STATUSES.has(status)) return { problem: `status ${status}: ${text.slice(0, 300)}`, applied: false };
    if (LEAK.test(text)) return { problem: `stack trace or source path in the body: ${text.slice(0, 300)}`, applied: false };
    let body: { data?: Record<string, unknown> | null; errors?: Array<{ extensions?: { code?: string } }> };
    try {
      body = JSON.parse(text);
    } catch {
      // Apollo's CSRF and media-type refusals are plain text; they are 4xx, which is what matters.
      return status === 200 ? { problem: `200 with a body that is not JSON: ${text.slice(0, 200)}`, applied: false } : { applied: false };
    }
    for (const error of body.errors ?? []) {
      const code = error.extensions?.code;
      if (code === undefined || !ALLOWED_CODES.has(code))
        return { problem: `extensions.code ${String(code)}: ${JSON.stringify(error).slice(0, 300)}`, applied: false };
    }
    // An odd body the server still runs as the request it carries is judged by its answer like any other.
    const applied = sent.shape !== 'odd-document' && body.data?.[operation.field] != null;
    if (applied && !actingUser(server, input.credential)) return { problem: `${operation.field} succeeded without a valid credential`, applied };
    return { applied, body };
  }

  const describeSent = (input: GraphQLInput, sent: Sent) =>
    JSON.stringify({ field: sent.operation.field, shape: sent.shape, credential: input.credential.kind, variables: sent.variables }, (_key, value: unknown) =>
      typeof value === 'string' && value.length > 120 ? `${value.slice(0, 60)}…(${value.length})` : value,
    );

  function harvest(sent: Sent, body: { data?: Record<string, unknown> | null } | undefined): void {
    const result = body?.data?.[sent.operation.field] as { id?: string } | undefined;
    if (sent.operation.field === 'createTicket' && result?.id) ticketPool.push(result.id);
    if (sent.operation.field === 'addReply' && result?.id) replyPool.push(result.id);
  }

  it('answers every generated request without a 5xx or an internal error; a refused one changes nothing in the database', async () => {
    let before = await fingerprint(server);
    const property = fc.asyncProperty(graphqlInput, async (input) => {
      const sent = await send(input);
      const { problem, applied, body } = judge(input, sent);
      tally.record('graphql', sent.status, problem);
      if (problem) throw new Error(`${problem}\nrequest: ${describeSent(input, sent)}`);
      const after = await fingerprint(server);
      if (!applied || sent.operation.kind === 'query') {
        const change = fingerprintChange(before, after);
        if (change)
          throw new Error(
            `a ${sent.operation.kind === 'query' ? 'query' : 'refused request'} changed the database (${change})\nrequest: ${describeSent(input, sent)}\nanswer: ${sent.status} ${sent.text.slice(0, 500)}`,
          );
      } else {
        harvest(sent, body);
      }
      before = after;
    });
    // At least MIN_INPUTS inputs however loaded the machine (bounded by time alone, a run at load 17
    // did 28), then more while the time budget lasts.
    await fc.assert(property, { numRuns: MIN_INPUTS, endOnFailure: true });
    await fc.assert(property, { ...bounded(SEQUENTIAL.runs, SEQUENTIAL.ms), endOnFailure: true });
    expect(tally.fivexx('graphql')).toBe(0);
    expect(tally.inputs('graphql')).toBeGreaterThan(50);
    // The server runs in this process: a `__proto__` member that reached an object's prototype shows here.
    expect(Object.prototype).not.toHaveProperty('polluted');
  }, 60_000);

  it('answers bursts of generated requests sent in parallel without a 5xx or an internal error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(graphqlInput, { minLength: BURSTS.size, maxLength: BURSTS.size }), async (inputs) => {
        const sent = await Promise.all(inputs.map((input) => send(input)));
        const problems: string[] = [];
        sent.forEach((each, index) => {
          const { problem, applied, body } = judge(inputs[index], each);
          tally.record('graphql (parallel)', each.status, problem);
          if (problem) problems.push(`${problem}\nrequest: ${describeSent(inputs[index], each)}`);
          else if (applied) harvest(each, body);
        });
        expect(problems).toEqual([]);
      }),
      { ...bounded(BURSTS.runs, BURSTS.ms), endOnFailure: true },
    );
    expect(tally.fivexx('graphql (parallel)')).toBe(0);
  }, 60_000);

  describe('what the fuzz found, pinned', () => {
    it('answers a subscription sent over HTTP with BAD_USER_INPUT, not an internal error', async () => {
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Credential ${server.users.customer.credential}` },
        body: JSON.stringify({ query: 'subscription { ticketEvents { cursor kind } }' }),
      });
      const body = (await response.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
      expect(response.status).toBeLessThan(500);
      expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    });

    it.each([
      ['a hash that does not match the query', { version: 1, sha256Hash: 'abc' }],
      ['an unsupported version', { version: 2, sha256Hash: 'abc' }],
    ])('answers a persisted query with %s with 400 BAD_REQUEST, not an internal error', async (_case, persistedQuery) => {
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Credential ${server.users.customer.credential}` },
        body: JSON.stringify({ query: '{ me { id } }', extensions: { persistedQuery } }),
      });
      const body = (await response.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
      expect(response.status).toBe(400);
      expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_REQUEST']);
    });

    it.each([
      ['a variable of the wrong type', 'subscription($t: ID) { ticketEvents(ticketId: $t) { cursor } }', { t: 1.5 }, 'BAD_USER_INPUT'],
      ['a variable of an object type', 'subscription($t: ID) { ticketEvents(ticketId: $t) { cursor } }', { t: { a: 1 } }, 'BAD_USER_INPUT'],
      ['an unknown field', 'subscription { ticketEvents { cursor bogus } }', {}, 'GRAPHQL_VALIDATION_FAILED'],
      ['an undeclared variable', 'subscription { ticketEvents(ticketId: $t) { cursor } }', {}, 'GRAPHQL_VALIDATION_FAILED'],
      ['a syntax error', 'subscription { ticketEvents { cursor }', {}, 'GRAPHQL_PARSE_FAILED'],
    ])('refuses a ws subscription with %s, and the socket stays usable', async (_case, query, variables, code) => {
      const live = connect(server, server.users.customer);
      clients.push(live);
      try {
        const refused = new EventStream(live.client, variables as { ticketId?: string }, query);
        await refused.ended();
        expect(refused.errors.map((error) => (error as { extensions?: { code?: string } }).extensions?.code)).toEqual([code]);
        const fine = new EventStream(live.client, {}, 'subscription { ticketEvents { cursor } }');
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(fine.errors).toEqual([]);
        fine.stop();
      } finally {
        await live.dispose();
      }
    });

    it.each(['next', 'error', 'connection_ack'])(
      'closes a socket that sends a %s message (a server-only type) with 4400, not an internal error',
      async (type) => {
        const socket = new WebSocket(wsUrl(server), 'graphql-transport-ws');
        const closed = new Promise<{ code: number; reason: string }>((resolve) =>
          socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
        );
        await new Promise((resolve) => socket.once('open', resolve));
        socket.send(JSON.stringify({ type: 'connection_init', payload: { credential: server.users.customer.credential } }));
        const ack = await new Promise<string>((resolve) => socket.once('message', (data) => resolve(String(data))));
        expect(JSON.parse(ack)).toEqual({ type: 'connection_ack' });
        socket.send(JSON.stringify(type === 'connection_ack' ? { type } : { type, id: 'x', payload: type === 'error' ? [{ message: 'm' }] : { data: null } }));
        expect(await closed).toEqual({ code: 4400, reason: `Unexpected message of type ${type} received` });
        const health = await fetch(`${server.url}/healthz`);
        expect(health.status).toBe(200);
      },
    );
  });

  describe('ticketEvents over graphql-ws', () => {
    const SUBSCRIPTION = `subscription($ticketId: ID, $after: String) {
      ticketEvents(ticketId: $ticketId, after: $after) { cursor kind ticket { id status permissions { reply } } reply { id } actor { id } }
    }`;

    const subscriptionArgs = fc.record({
      ticketId: fc.option(idValue, { nil: undefined, freq: 3 }),
      after: fc.option(fc.oneof(real('event-cursor'), raw(forgedCursor), raw(junkJson)), { nil: undefined, freq: 2 }),
    });

    it('answers generated subscription arguments with a stream or a refusal, never an internal error', async () => {
      const viewers = ['customer', 'staff', 'scheduler', 'multi'] as const;
      const before = await fingerprint(server);
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...viewers),
          fc.array(subscriptionArgs, { minLength: SUBSCRIPTIONS.batch, maxLength: SUBSCRIPTIONS.batch }),
          async (viewer, batch) => {
            // A socket per batch: a message over the size limit closes its socket (1009), as it should.
            const live = connect(server, server.users[viewer]);
            clients.push(live);
            const streams = batch.map((args) => {
              const variables = Object.fromEntries(
                Object.entries(args)
                  .map(([name, value]) => [name, resolve(value)])
                  .filter(([, value]) => value !== undefined),
              );
              return { variables, stream: new EventStream(live.client, variables as { ticketId?: string; after?: string }, SUBSCRIPTION) };
            });
            // Refusals arrive at once; a stream that opened stays quiet (or replays after `after`).
            await new Promise((resolve) => setTimeout(resolve, 150));
            const problems: string[] = [];
            for (const { variables, stream } of streams) {
              stream.stop();
              const outcomes = stream.errors.map((error) => {
                const { extensions, code } = error as { extensions?: { code?: string }; code?: number };
                return extensions?.code ?? (typeof code === 'number' ? `close ${code}` : 'no code');
              });
              tally.record('graphql-ws subscribe', outcomes.length ? outcomes.join(',') : 'open');
              const bad = outcomes.filter((outcome) => !ALLOWED_CODES.has(outcome) && outcome !== 'close 1009');
              if (bad.length) problems.push(`${bad.join(',')} for ${JSON.stringify(variables).slice(0, 200)}: ${JSON.stringify(stream.errors).slice(0, 300)}`);
            }
            await live.dispose();
            expect(problems).toEqual([]);
          },
        ),
        { ...bounded(SUBSCRIPTIONS.runs, SUBSCRIPTIONS.ms), endOnFailure: true },
      );
      // Subscribing, refused or not, changed nothing.
      expect(await fingerprint(server)).toEqual(before);
      await subscribers(server, 0);
    }, 60_000);

    it('closes sockets with junk connection params or junk frames with a protocol code, never an internal one, and stays up', async () => {
      const frame = fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
        fc
          .record(
            {
              type: fc.oneof(fc.constantFrom('subscribe', 'next', 'complete', 'ping', 'pong', 'connection_init', 'error', 'bogus'), junkJson),
              id: junkJson,
              payload: junkJson,
            },
            { requiredKeys: ['type'] },
          )
          .map((value) => JSON.stringify(value)),
        fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
        // Well-formed subscribe messages whose document is mangled, misspelled or of another type.
        fc
          .tuple(
            fc.constantFrom(
              'subscription { ticketEvents { cursor } }',
              'subscription($t: ID) { ticketEvents(ticketId: $t) { cursor kind } }',
              '{ me { id } }',
              'mutation { cancelTicket(id: "x") { id } }',
            ),
            fc.array(fc.record({ at: fc.nat(), text: fc.constantFrom('', '{', '}', '(', '$', '"', '@', 'x') }), { maxLength: 3 }),
            fc.oneof(fc.constant(undefined), junkJson),
          )
          .map(([query, edits, t]) =>
            JSON.stringify({
              type: 'subscribe',
              id: 'fuzz',
              payload: { query: mangle(query, edits), variables: t === undefined ? undefined : { t } },
            }),
          ),
      );
      const scenario = fc.record({
        init: fc.oneof(
          fc.constant<unknown>('valid'),
          fc.record({ credential: fc.oneof(junkJson, fc.stringMatching(/^[0-9a-f]{0,64}$/)) }),
          junkJson,
          fc.constant<unknown>('none'),
        ),
        frames: fc.array(frame, { maxLength: 4 }),
      });
      // Codes a server closes a misbehaving client with (graphql-ws 44xx, ws protocol 100x), or a normal close.
      const PROTOCOL_CODES = new Set([1000, 1001, 1002, 1003, 1005, 1006, 1007, 1009, 4400, 4401, 4403, 4406, 4408, 4409, 4429]);
      await fc.assert(
        fc.asyncProperty(scenario, async ({ init, frames }) => {
          const socket = new WebSocket(wsUrl(server), 'graphql-transport-ws');
          const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
          socket.on('error', () => undefined);
          await new Promise<void>((resolve) => {
            socket.once('open', () => resolve());
            socket.once('close', () => resolve());
          });
          if (socket.readyState === socket.OPEN) {
            if (init !== 'none') {
              const payload = init === 'valid' ? { credential: server.users.customer.credential } : init;
              socket.send(JSON.stringify({ type: 'connection_init', payload }));
              // Wait for the acknowledgement (or the refusal), so frames reach an acknowledged socket.
              await new Promise<void>((resolve) => {
                const timer = setTimeout(resolve, 200);
                socket.once('message', () => (clearTimeout(timer), resolve()));
                socket.once('close', () => (clearTimeout(timer), resolve()));
              });
            }
            for (const each of frames) if (socket.readyState === socket.OPEN) socket.send(each);
          }
          const code = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(0), 200))]);
          if (code === 0) socket.terminate();
          tally.record('graphql-ws frames', code === 0 ? 'open' : `close ${code}`);
          return code === 0 || PROTOCOL_CODES.has(code);
        }),
        { ...bounded(FRAMES.runs, FRAMES.ms), endOnFailure: true },
      );
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
    }, 60_000);
  });
});
