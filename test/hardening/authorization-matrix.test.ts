import { encodeCredential } from '../../src/modules/auth/credential';
import { legacy, type LegacyResponse } from '../support/legacy-client';
import { connect, EventStream, settled, subscribers, type LiveClient } from '../support/live-client';
import {
  createTicketAs,
  defaultActors,
  gql,
  MUTATION_OF,
  PNG_BYTES,
  snapshot,
  STATUS_NAMES,
  ticketIn,
  type GraphQLResponse,
  type OperationName,
  type StatusName,
} from '../support/http';
import { SPEC_FORBIDDEN_MESSAGE, SPEC_LEGACY_FLAG } from '../support/spec-tables';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { badErrorBody, fingerprint } from '../support/fuzz';

/**
 * Every operation of every surface (GraphQL queries and mutations, the legacy actions, uploads,
 * image URLs, ticketEvents subscriptions) tried by every kind of viewer (anonymous, a bad
 * credential, the owner, another customer, the assigned staff member, other staff, a scheduler,
 * a customer who is also staff, the administrator) against tickets in every status.
 *
 * The expected outcome of each case comes from the table below, written out of docs/contract.md ("Roles",
 * "Who sees what", "Transitions", "Other operations", "Credential"), not from ticket.rules.ts, so
 * the rule table is checked against the contract. Refusals are tried on one ticket per status
 * (shared) with the whole database fingerprinted before and after: a refusal changes nothing.
 * Successes are tried each on a fresh ticket in that status, and their effect is checked. The
 * permission flags each viewer reads are then compared with what the mutations actually did.
 */

// ---------------------------------------------------------------------------------------------
// The contract, as tables (docs/contract.md)
// ---------------------------------------------------------------------------------------------

const VIEWERS = ['anonymous', 'badCredential', 'owner', 'otherCustomer', 'assignee', 'otherStaff', 'scheduler', 'multi', 'admin'] as const;
type ViewerName = (typeof VIEWERS)[number];
const AUTHENTICATED: readonly ViewerName[] = VIEWERS.filter((viewer) => viewer !== 'anonymous' && viewer !== 'badCredential');

/** The fixture user each viewer is (test/support/server.ts); none for the unauthenticated two. */
const FIXTURE: Record<ViewerName, keyof TestServer['users'] | null> = {
  anonymous: null,
  badCredential: null,
  owner: 'customer',
  otherCustomer: 'otherCustomer',
  assignee: 'staff',
  otherStaff: 'otherStaff',
  scheduler: 'scheduler',
  multi: 'multi', // customer and staff, but neither the owner nor the assignee of these tickets
  admin: 'admin', // every role and the administrator flag, neither owner nor assignee
};

type RoleName = 'customer' | 'staff' | 'scheduler';
/** docs/contract.md "Roles": what each viewer holds. */
const ROLES: Record<ViewerName, readonly RoleName[]> = {
  anonymous: [],
  badCredential: [],
  owner: ['customer'],
  otherCustomer: ['customer'],
  assignee: ['staff'],
  otherStaff: ['staff'],
  scheduler: ['scheduler'],
  multi: ['customer', 'staff'],
  admin: ['customer', 'staff', 'scheduler'],
};

/**
 * Who a viewer is to a matrix ticket. Every matrix ticket is filed by `owner` and, once it leaves
 * NEW, assigned to `assignee` (who stays on it through FIXED, CLOSED, REOPEN and CANCEL).
 */
function relation(viewer: ViewerName, status: StatusName) {
  const owner = viewer === 'owner';
  const assignee = viewer === 'assignee' && status !== 'NEW';
  const scheduler = ROLES[viewer].includes('scheduler');
  // docs/contract.md "Who sees what": customers their own, staff what is assigned to them (never NEW), schedulers all.
  return { owner, assignee, scheduler, sees: owner || assignee || scheduler };
}
type Relation = ReturnType<typeof relation>;

type Operation = OperationName;

/** docs/contract.md "Transitions" and "Other operations": who may, from which statuses, to which status. */
const RULES: Record<Operation, { who: (r: Relation) => boolean; from: readonly StatusName[]; to?: StatusName }> = {
  assign: { who: (r) => r.scheduler, from: ['NEW', 'REOPEN', 'ASSIGNED', 'IN_PROCESSING', 'REQUEST_INFORMATION'], to: 'ASSIGNED' },
  startProcessing: { who: (r) => r.assignee, from: ['ASSIGNED', 'REQUEST_INFORMATION'], to: 'IN_PROCESSING' },
  requestInformation: { who: (r) => r.assignee || r.scheduler, from: ['ASSIGNED', 'IN_PROCESSING'], to: 'REQUEST_INFORMATION' },
  fix: { who: (r) => r.assignee, from: ['ASSIGNED', 'IN_PROCESSING'], to: 'FIXED' },
  close: { who: (r) => r.scheduler, from: ['FIXED'], to: 'CLOSED' },
  reopen: { who: (r) => r.owner, from: ['FIXED', 'CLOSED'], to: 'REOPEN' },
  cancel: { who: (r) => r.owner || r.scheduler, from: ['NEW', 'ASSIGNED', 'REOPEN', 'REQUEST_INFORMATION', 'IN_PROCESSING'], to: 'CANCEL' },
  edit: { who: (r) => r.owner, from: ['NEW', 'REOPEN', 'REQUEST_INFORMATION'] },
  reply: { who: (r) => r.sees, from: ['NEW', 'ASSIGNED', 'IN_PROCESSING', 'REQUEST_INFORMATION', 'FIXED', 'REOPEN'] },
  // "Delete a reply: its author only" — the reply on each matrix ticket is the owner's; no status rule.
  deleteReply: { who: (r) => r.owner, from: STATUS_NAMES },
};
const OPERATIONS = Object.keys(RULES) as Operation[];
/** Operations with a permission flag (deleteReply has none). */
const FLAGGED = OPERATIONS.filter((operation) => operation !== 'deleteReply');

const INVALID_CREDENTIAL = 'Invalid credential';

const errorCodeOf = (result: GraphQLResponse): string => String(result.errors?.[0]?.extensions?.code ?? 'OK');

type Outcome = 'OK' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'CONFLICT';
interface Expected {
  outcome: Outcome;
  message?: string;
}

/** What docs/contract.md says happens when `viewer` attempts `operation` on the matrix ticket in `status`. */
function expected(operation: Operation, viewer: ViewerName, status: StatusName): Expected {
  if (!AUTHENTICATED.includes(viewer)) return { outcome: 'UNAUTHENTICATED', message: INVALID_CREDENTIAL };
  const rule = RULES[operation];
  if (!rule.who(relation(viewer, status))) return { outcome: 'FORBIDDEN', message: SPEC_FORBIDDEN_MESSAGE[operation] };
  if (!rule.from.includes(status)) return { outcome: 'CONFLICT' };
  return { outcome: 'OK' };
}

/** The legacy spelling of each transition's target status (seed names, one alias for variety). */
const LEGACY_STATUS: Partial<Record<Operation, string>> = {
  assign: 'ASSIGNED',
  startProcessing: 'IN PROCESSING',
  requestInformation: 'Request Information',
  fix: 'FIXED',
  close: 'CLOSED',
  reopen: 'REOPEN',
  cancel: 'CANCEL',
};

/** A status named in a message: the enum name or the seed's spelling ("Request Information"). */
const statusPattern = (status: StatusName): RegExp => new RegExp(status.split('_').join('[ _]'), 'i');

type Surface = 'graphql' | 'legacy';
const SURFACES: readonly Surface[] = ['graphql', 'legacy'];

const inChunks = async <T, R>(items: readonly T[], size: number, run: (item: T) => Promise<R>): Promise<R[]> => {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += size) results.push(...(await Promise.all(items.slice(start, start + size).map(run))));
  return results;
};

const NEW_CONTENT = 'edited by the authorization matrix';

describe.each(DATABASES)('authorization matrix across every surface (%s)', (kind) => {
  let server: TestServer;
  /** The shared matrix tickets, one per status, each with one reply by its owner. */
  let tickets: Record<StatusName, { id: string; replyId: string }>;
  /** A ticket of the owner's carrying one image, for the image URL cases. */
  let imageTicket: { id: string; url: string };
  const clients: LiveClient[] = [];
  /** What each mutation actually did, by `${surface} ${operation} ${viewer} ${status}`. */
  const actual = new Map<string, Outcome | string>();
  const tried = { graphql: 0, legacy: 0, uploads: 0, images: 0, subscriptions: 0 };

  /** The credential a viewer sends; undefined for anonymous. A bad one is the owner's, under another key. */
  const credentialOf = (viewer: ViewerName): string | undefined => {
    if (viewer === 'anonymous') return undefined;
    if (viewer === 'badCredential') return encodeCredential('customer', 'correct horse battery', Buffer.alloc(32, 9));
    return server.users[FIXTURE[viewer] as keyof TestServer['users']].credential;
  };
  const userOf = (viewer: ViewerName) => {
    const credential = credentialOf(viewer);
    return credential === undefined ? null : { credential };
  };
  const idOf = (viewer: ViewerName): number => server.users[FIXTURE[viewer] as keyof TestServer['users']].id;

  beforeAll(async () => {
    // The bad-credential viewer fails a login per case, hundreds in all: beyond the per-address limit.
    server = await startServer(kind, { loginThrottle: { perAddress: { maxFailures: 100_000, windowMs: 60_000, lockMs: 60_000 } } });
    const actors = defaultActors(server);
    const made = await Promise.all(STATUS_NAMES.map((status) => ticketIn(server, status, actors, { reply: true })));
    tickets = Object.fromEntries(STATUS_NAMES.map((status, index) => [status, made[index]])) as typeof tickets;
    const withImage = await createTicketAs(server, server.users.customer, 'A ticket with a screenshot', [
      `data:image/png;base64,${PNG_BYTES.toString('base64')}`,
    ]);
    const [url] = (await snapshot(server, server.users.scheduler, withImage)).images as string[];
    imageTicket = { id: withImage, url };
  });
  afterAll(async () => {
    console.log(
      `authorization matrix (${kind}): ${tried.graphql} GraphQL, ${tried.legacy} legacy, ${tried.uploads} upload, ${tried.images} image URL and ${tried.subscriptions} subscription cases`,
    );
    await Promise.all(clients.map((client) => client.dispose()));
    await server?.close();
  });

  /** Attempts an operation over one surface and returns its outcome and message. */
  async function attempt(
    surface: Surface,
    operation: Operation,
    viewer: ViewerName,
    target: { id: string; replyId: string },
  ): Promise<{ outcome: Outcome | string; message?: string; raw: unknown }> {
    const user = userOf(viewer);
    const staffId = server.users.otherStaff.id;
    if (surface === 'graphql') {
      tried.graphql += 1;
      let result: GraphQLResponse;
      if (operation === 'reply')
        result = await gql(server, user, 'mutation($id: ID!) { addReply(ticketId: $id, content: "a matrix reply") { id author { id } } }', { id: target.id });
      else if (operation === 'edit')
        result = await gql(server, user, `mutation($id: ID!) { editTicket(id: $id, input: { content: "${NEW_CONTENT}" }) { id } }`, { id: target.id });
      else if (operation === 'assign')
        result = await gql(server, user, 'mutation($id: ID!, $staffId: ID!) { assignTicket(id: $id, staffId: $staffId) { id } }', {
          id: target.id,
          staffId: String(staffId),
        });
      else if (operation === 'deleteReply') result = await gql(server, user, 'mutation($id: ID!) { deleteReply(id: $id) }', { id: target.replyId });
      else result = await gql(server, user, `mutation($id: ID!) { ${MUTATION_OF[operation]}(id: $id) { id status } }`, { id: target.id });
      if (!result.errors?.length) return { outcome: 'OK', raw: result.data };
      return { outcome: result.errors[0].extensions?.code ?? 'no code', message: result.errors[0].message, raw: result.errors };
    }
    tried.legacy += 1;
    let response: LegacyResponse;
    if (operation === 'reply') response = await legacy(server, user, 'ticket-reply-create', { uuid: target.id, reply: { content: 'a matrix reply' } });
    else if (operation === 'edit') response = await legacy(server, user, 'edit-ticket', { uuid: target.id, content: NEW_CONTENT });
    else if (operation === 'deleteReply') response = await legacy(server, user, 'ticket-reply-delete', { uuid: target.id, 'reply-uuid': target.replyId });
    else
      response = await legacy(server, user, 'edit-ticket', {
        uuid: target.id,
        status: LEGACY_STATUS[operation],
        ...(operation === 'assign' ? { 'staff-id': staffId } : {}),
      });
    const outcome =
      ({ 200: 'OK', 401: 'UNAUTHENTICATED', 403: 'FORBIDDEN', 409: 'CONFLICT' } as Record<number, Outcome>)[response.status] ?? `HTTP ${response.status}`;
    if (response.status !== 200) {
      const shape = badErrorBody(response.status, JSON.stringify(response.body));
      if (shape) return { outcome: `bad error body: ${shape}`, raw: response.body };
    }
    return { outcome, message: response.status === 200 ? undefined : response.body.message, raw: response.body };
  }

  /** The outcome in the shape of {@link Expected}: CONFLICT messages must name the current status. */
  const comparable = (result: { outcome: Outcome | string; message?: string }, status: StatusName, expectedOutcome: Expected): Expected | string => {
    if (result.outcome === 'CONFLICT' && expectedOutcome.outcome === 'CONFLICT') {
      return statusPattern(status).test(result.message ?? '') ? { outcome: 'CONFLICT' } : `CONFLICT not naming ${status}: ${result.message}`;
    }
    if (result.outcome === 'OK') return { outcome: 'OK' };
    return { outcome: result.outcome as Outcome, message: result.message };
  };

  const CASES = SURFACES.flatMap((surface) =>
    OPERATIONS.flatMap((operation) =>
      VIEWERS.flatMap((viewer) => STATUS_NAMES.map((status) => ({ surface, operation, viewer, status, expect: expected(operation, viewer, status) }))),
    ),
  );
  const REFUSALS = CASES.filter((each) => each.expect.outcome !== 'OK');
  const SUCCESSES = CASES.filter((each) => each.expect.outcome === 'OK');

  it('reads: ticket, tickets, me, ticket-detail, list and scheduler-list show each viewer exactly what docs/contract.md lets them see, and change nothing', async () => {
    const before = await fingerprint(server);
    const matrixIds = new Set(STATUS_NAMES.map((status) => tickets[status].id));
    const visibleIds = (viewer: ViewerName) =>
      STATUS_NAMES.filter((status) => relation(viewer, status).sees)
        .map((status) => tickets[status].id)
        .sort();
    const seen: Record<string, unknown> = {};
    const wanted: Record<string, unknown> = {};
    await Promise.all(
      VIEWERS.map(async (viewer) => {
        const user = userOf(viewer);
        const authenticated = AUTHENTICATED.includes(viewer);
        // ticket(id) and ticket-detail, per status.
        for (const status of STATUS_NAMES) {
          const { id } = tickets[status];
          const sees = relation(viewer, status).sees;
          const graph = await gql(server, user, 'query($id: ID!) { ticket(id: $id) { id } }', { id });
          const detail = await legacy(server, user, 'ticket-detail', { uuid: id });
          tried.graphql += 1;
          tried.legacy += 1;
          seen[`ticket ${viewer} ${status}`] = graph.errors?.length ? [graph.errors[0].extensions?.code, graph.errors[0].message] : 'OK';
          seen[`ticket-detail ${viewer} ${status}`] = detail.status === 200 ? 'OK' : [detail.status, detail.body.message];
          wanted[`ticket ${viewer} ${status}`] = !authenticated
            ? ['UNAUTHENTICATED', INVALID_CREDENTIAL]
            : sees
              ? 'OK'
              : ['FORBIDDEN', SPEC_FORBIDDEN_MESSAGE.view];
          wanted[`ticket-detail ${viewer} ${status}`] = !authenticated ? [401, INVALID_CREDENTIAL] : sees ? 'OK' : [403, SPEC_FORBIDDEN_MESSAGE.view];
        }
        // tickets (all the viewer's roles) and the legacy lists (one role each).
        const list = await gql(server, user, '{ tickets(first: 100) { edges { node { id } } } }');
        tried.graphql += 1;
        seen[`tickets ${viewer}`] = list.errors?.length
          ? list.errors[0].extensions?.code
          : list
              .data!.tickets.edges.map((edge: { node: { id: string } }) => edge.node.id)
              .filter((id: string) => matrixIds.has(id))
              .sort();
        wanted[`tickets ${viewer}`] = authenticated ? visibleIds(viewer) : 'UNAUTHENTICATED';
        for (const [action, operator] of [
          ['list', 'customer'],
          ['list', 'staff'],
          ['scheduler-list', 'scheduler'],
        ] as const) {
          const answer = await legacy(server, user, action, { operator, status: 'ALL' });
          tried.legacy += 1;
          seen[`${action} ${operator} ${viewer}`] =
            answer.status === 200
              ? answer.body.tickets
                  .map((ticket: { uuid: string }) => ticket.uuid)
                  .filter((id: string) => matrixIds.has(id))
                  .sort()
              : [answer.status, answer.body.message];
          const holds = ROLES[viewer].includes(operator);
          // Acting as one role: customers see their own, staff their assigned (never NEW), schedulers all.
          const asRole = STATUS_NAMES.filter((status) =>
            operator === 'customer' ? viewer === 'owner' : operator === 'staff' ? viewer === 'assignee' && status !== 'NEW' : true,
          )
            .map((status) => tickets[status].id)
            .sort();
          wanted[`${action} ${operator} ${viewer}`] = !authenticated
            ? [401, INVALID_CREDENTIAL]
            : holds
              ? asRole
              : [403, `You are not allowed to list tickets as ${operator}`];
        }
        // me and permission-check: any authenticated viewer, with its roles.
        const me = await gql(server, user, '{ me { id roles } }');
        const check = await legacy(server, user, 'permission-check');
        tried.graphql += 1;
        tried.legacy += 1;
        seen[`me ${viewer}`] = me.errors?.length ? me.errors[0].extensions?.code : [...me.data!.me.roles].sort();
        seen[`permission-check ${viewer}`] = check.status === 200 ? [...check.body.operator].sort() : check.status;
        wanted[`me ${viewer}`] = authenticated ? ROLES[viewer].map((role) => role.toUpperCase()).sort() : 'UNAUTHENTICATED';
        wanted[`permission-check ${viewer}`] = authenticated ? [...ROLES[viewer]].sort() : 401;
      }),
    );
    expect(seen).toEqual(wanted);
    expect(await fingerprint(server)).toEqual(before);
  }, 60_000);

  it('refuses every operation docs/contract.md refuses, on every surface, with its code and message, and a refusal changes nothing', async () => {
    const before = await fingerprint(server);
    const got: Record<string, Expected | string> = {};
    const want: Record<string, Expected> = {};
    await inChunks(REFUSALS, 16, async ({ surface, operation, viewer, status, expect: expectedOutcome }) => {
      const key = `${surface} ${operation} ${viewer} ${status}`;
      const result = await attempt(surface, operation, viewer, tickets[status]);
      actual.set(key, result.outcome);
      got[key] = comparable(result, status, expectedOutcome);
      want[key] = expectedOutcome;
    });
    // Creating tickets (customers only) and users (administrators only), refused.
    for (const viewer of VIEWERS) {
      const user = userOf(viewer);
      const authenticated = AUTHENTICATED.includes(viewer);
      if (!authenticated || !ROLES[viewer].includes('customer')) {
        const graph = await gql(server, user, 'mutation { createTicket(input: { content: "not allowed" }) { id } }');
        const old = await legacy(server, user, 'create-ticket', { content: 'not allowed' });
        tried.graphql += 1;
        tried.legacy += 1;
        got[`graphql createTicket ${viewer}`] = { outcome: graph.errors?.[0]?.extensions?.code as Outcome, message: graph.errors?.[0]?.message };
        got[`legacy create-ticket ${viewer}`] = { outcome: String(old.status) as Outcome, message: old.body.message };
        want[`graphql createTicket ${viewer}`] = authenticated
          ? { outcome: 'FORBIDDEN', message: SPEC_FORBIDDEN_MESSAGE.create }
          : { outcome: 'UNAUTHENTICATED', message: INVALID_CREDENTIAL };
        want[`legacy create-ticket ${viewer}`] = authenticated
          ? { outcome: '403' as Outcome, message: SPEC_FORBIDDEN_MESSAGE.create }
          : { outcome: '401' as Outcome, message: INVALID_CREDENTIAL };
      }
      if (viewer !== 'admin') {
        const result = await gql(server, user, 'mutation($input: CreateUserInput!) { createUser(input: $input) { id } }', {
          input: { username: `intruder-${viewer}`, password: 'a long enough password', roles: ['SCHEDULER'] },
        });
        tried.graphql += 1;
        got[`graphql createUser ${viewer}`] = { outcome: result.errors?.[0]?.extensions?.code as Outcome, message: result.errors?.[0]?.message };
        want[`graphql createUser ${viewer}`] = authenticated
          ? { outcome: 'FORBIDDEN', message: SPEC_FORBIDDEN_MESSAGE.createUser }
          : { outcome: 'UNAUTHENTICATED', message: INVALID_CREDENTIAL };
      }
      if (!authenticated) {
        const form = new FormData();
        form.append('images', new Blob([PNG_BYTES]), 'a.png');
        const credential = credentialOf(viewer);
        const response = await fetch(`${server.url}/uploads`, {
          method: 'POST',
          headers: credential ? { authorization: `Credential ${credential}` } : {},
          body: form,
        });
        tried.uploads += 1;
        got[`uploads ${viewer}`] = { outcome: String(response.status) as Outcome, message: ((await response.json()) as { message: string }).message };
        want[`uploads ${viewer}`] = { outcome: '401' as Outcome, message: INVALID_CREDENTIAL };
      }
    }
    expect(got).toEqual(want);
    // Not one refused request left a trace: tickets, replies, history, events, images, users.
    expect(await fingerprint(server)).toEqual(before);
  }, 120_000);

  it('lets every operation docs/contract.md allows succeed, on every surface, with its effect (each on a fresh ticket)', async () => {
    const actors = defaultActors(server);
    const got: Record<string, unknown> = {};
    const want: Record<string, unknown> = {};
    await inChunks(SUCCESSES, 12, async ({ surface, operation, viewer, status }) => {
      const key = `${surface} ${operation} ${viewer} ${status}`;
      const fresh = (await ticketIn(server, status, actors, { reply: true })) as { id: string; replyId: string };
      const result = await attempt(surface, operation, viewer, fresh);
      actual.set(key, result.outcome);
      const after = await snapshot(server, server.users.scheduler, fresh.id);
      const replies = after.replies as Array<{ id: string; content: string; author: { id: string } }>;
      const history = after.history as Array<{ status: string; actor: { id: string } }>;
      const self = String(idOf(viewer));
      const to = RULES[operation].to;
      let effect: unknown;
      // A fresh ticket has one reply, the owner's; a transition appends one history entry by its actor.
      if (to) effect = { status: after.status, last: { status: history.at(-1)?.status, actor: history.at(-1)?.actor.id }, previous: history.at(-2)?.status };
      else if (operation === 'edit') effect = { content: after.content, status: after.status };
      else if (operation === 'reply') effect = { replies: replies.length, last: { content: replies.at(-1)?.content, author: replies.at(-1)?.author.id } };
      else effect = { replies: replies.length };
      got[key] = { outcome: result.outcome, ...(result.message ? { message: result.message } : {}), effect };
      want[key] = {
        outcome: 'OK',
        effect: to
          ? { status: to, last: { status: to, actor: self }, previous: status }
          : operation === 'edit'
            ? { content: NEW_CONTENT, status }
            : operation === 'reply'
              ? { replies: 2, last: { content: 'a matrix reply', author: self } }
              : { replies: 0 },
      };
    });
    // Creating tickets (every holder of the customer role), users (the administrator), uploads (anyone signed in).
    for (const viewer of AUTHENTICATED) {
      const user = userOf(viewer)!;
      if (ROLES[viewer].includes('customer')) {
        const graph = await gql(server, user, 'mutation { createTicket(input: { content: "allowed" }) { status customer { id } } }');
        const old = await legacy(server, user, 'create-ticket', { content: 'allowed', status: 'new' });
        tried.graphql += 1;
        tried.legacy += 1;
        got[`graphql createTicket ${viewer}`] = graph.data?.createTicket ?? graph.errors;
        got[`legacy create-ticket ${viewer}`] = old.status;
        want[`graphql createTicket ${viewer}`] = { status: 'NEW', customer: { id: String(idOf(viewer)) } };
        want[`legacy create-ticket ${viewer}`] = 200;
      }
      const form = new FormData();
      form.append('images', new Blob([PNG_BYTES]), 'a.png');
      const response = await fetch(`${server.url}/uploads`, { method: 'POST', headers: { authorization: `Credential ${user.credential}` }, body: form });
      tried.uploads += 1;
      got[`uploads ${viewer}`] = response.status;
      want[`uploads ${viewer}`] = 201;
    }
    const created = await gql(server, userOf('admin'), 'mutation($input: CreateUserInput!) { createUser(input: $input) { username roles } }', {
      input: { username: `matrix-${kind}`, password: 'a long enough password', roles: ['STAFF'] },
    });
    tried.graphql += 1;
    got['graphql createUser admin'] = created.data?.createUser ?? created.errors;
    want['graphql createUser admin'] = { username: `matrix-${kind}`, roles: ['STAFF'] };
    expect(got).toEqual(want);
  }, 180_000);

  it('shows each viewer permission flags that predict exactly which mutations succeeded, the same on both surfaces', async () => {
    // Needs the outcomes recorded by the two tests above.
    expect(actual.size).toBe(CASES.length);
    const got: Record<string, unknown> = {};
    const want: Record<string, unknown> = {};
    await Promise.all(
      AUTHENTICATED.flatMap((viewer) =>
        STATUS_NAMES.filter((status) => relation(viewer, status).sees).map(async (status) => {
          const user = userOf(viewer);
          const { id } = tickets[status];
          const graph = await gql(
            server,
            user,
            'query($id: ID!) { ticket(id: $id) { permissions { reply edit assign startProcessing requestInformation fix close reopen cancel } } }',
            { id },
          );
          const detail = await legacy(server, user, 'ticket-detail', { uuid: id });
          got[`${viewer} ${status} graphql`] = graph.data?.ticket?.permissions ?? graph.errors;
          got[`${viewer} ${status} legacy`] = detail.body['ticket-detail']?.permission ?? detail.body;
          want[`${viewer} ${status} graphql`] = Object.fromEntries(
            FLAGGED.map((operation) => [operation, actual.get(`graphql ${operation} ${viewer} ${status}`) === 'OK']),
          );
          want[`${viewer} ${status} legacy`] = Object.fromEntries(
            FLAGGED.filter((operation) => SPEC_LEGACY_FLAG[operation]).map((operation) => [
              SPEC_LEGACY_FLAG[operation],
              actual.get(`legacy ${operation} ${viewer} ${status}`) === 'OK' ? 1 : 0,
            ]),
          );
        }),
      ),
    );
    expect(got).toEqual(want);
  });

  it('serves images at capability URLs that only viewers of the ticket are ever told; unknown and malformed ids are 404', async () => {
    const imageId = imageTicket.url.split('/images/')[1];
    // The URL itself is the capability (browsers load <img src> without the Authorization header).
    const anonymous = await fetch(imageTicket.url);
    tried.images += 1;
    expect(anonymous.status).toBe(200);
    expect(Buffer.from(await anonymous.arrayBuffer()).equals(PNG_BYTES)).toBe(true);
    expect(anonymous.headers.get('x-content-type-options')).toBe('nosniff');
    // Only viewers who may see the ticket ever receive its image URL, on either surface.
    const leaks: string[] = [];
    await Promise.all(
      AUTHENTICATED.map(async (viewer) => {
        const user = userOf(viewer);
        const sees = relation(viewer, 'NEW').sees; // the image ticket is the owner's, NEW
        const answers = [
          await gql(server, user, '{ tickets(first: 100) { edges { node { images } } } }'),
          await gql(server, user, 'query($id: ID!) { ticket(id: $id) { images } }', { id: imageTicket.id }),
          await legacy(server, user, 'ticket-detail', { uuid: imageTicket.id }),
          ...(['customer', 'staff'] as const).map((operator) => legacy(server, user, 'list', { operator })),
          legacy(server, user, 'scheduler-list', {}),
        ];
        const text = JSON.stringify(await Promise.all(answers));
        if (text.includes(imageId) !== sees) leaks.push(`${viewer}: ${sees ? 'never told' : 'told'} the image URL`);
      }),
    );
    expect(leaks).toEqual([]);
    // Unknown and malformed ids.
    const cases = ['00000000-0000-7000-8000-000000000000', '01900000-0000-7000-8000-000000000000.png', 'not-a-uuid', '1', `${imageId}x`];
    for (const id of cases) {
      const response = await fetch(`${server.url}/images/${id}`);
      tried.images += 1;
      expect([id, response.status]).toEqual([id, 404]);
      expect(await response.json()).toEqual({ code: 404, message: 'Image not found' });
    }
  });

  describe('ticketEvents subscriptions', () => {
    it('refuses unauthenticated sockets (4403), refuses one-ticket streams of tickets the viewer may not see (FORBIDDEN), opens the rest', async () => {
      for (const viewer of ['anonymous', 'badCredential'] as const) {
        const credential = credentialOf(viewer);
        const live = connect(server, null, credential ? { credential } : {});
        clients.push(live);
        tried.subscriptions += 1;
        expect([viewer, (await live.closed).code]).toEqual([viewer, 4403]);
      }
      // Settled without a fixed wait: every stream the server accepts registers with the hub, and
      // every refusal arrives as an error; until both have happened (or 30 s), nothing is read.
      const want: Record<string, unknown> = {};
      const watched: Array<{ key: string; stream: EventStream }> = [];
      const lives = AUTHENTICATED.map((viewer) => {
        const live = connect(server, userOf(viewer));
        clients.push(live);
        for (const status of STATUS_NAMES) {
          const key = `${viewer} ${status}`;
          watched.push({ key, stream: new EventStream(live.client, { ticketId: tickets[status].id }) });
          want[key] = relation(viewer, status).sees ? 'open' : ['FORBIDDEN', SPEC_FORBIDDEN_MESSAGE.view];
        }
        return live;
      });
      await subscribers(server, Object.values(want).filter((outcome) => outcome === 'open').length, 30_000);
      const deadline = Date.now() + 30_000;
      while (watched.some(({ key, stream }) => want[key] !== 'open' && stream.errors.length === 0) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const got: Record<string, unknown> = {};
      for (const { key, stream } of watched) {
        tried.subscriptions += 1;
        const errors = stream.errors as Array<{ extensions?: { code?: string }; message?: string }>;
        got[key] = errors.length ? [errors[0].extensions?.code, errors[0].message] : 'open';
        stream.stop();
      }
      await Promise.all(lives.map((live) => live.dispose()));
      expect(got).toEqual(want);
      await subscribers(server, 0);
    });

    it('delivers each event only to the viewers who may see the ticket at that moment, and a refusal delivers nothing', async () => {
      const streams = Object.fromEntries(
        AUTHENTICATED.map((viewer) => {
          const live = connect(server, userOf(viewer));
          clients.push(live);
          return [viewer, new EventStream(live.client)];
        }),
      ) as Record<ViewerName, EventStream>;
      await subscribers(server, AUTHENTICATED.length);
      const actors = defaultActors(server);
      // A fresh ticket walked NEW → ASSIGNED → reply → FIXED → CLOSED, with refusals in between.
      const id = await createTicketAs(server, actors.owner, 'watched by the matrix');
      // Each event delivered before the next change: an event the hub reads from the log (when the
      // writer's own fan-out is not taken: a read already under way, a wait for it that ran out on
      // a loaded machine) carries the ticket as it is then, status and visibility alike. The
      // scheduler sees every event, and each event is one payload offered to every subscriber at once.
      let events = 0;
      const delivered = () =>
        streams.scheduler.until((s) => s.events.filter((event) => event.ticket.id === id).length >= events, `${events} events of the watched ticket`);
      events++;
      await delivered();
      const steps: Array<{ kind: string; status: StatusName; run: () => Promise<unknown> }> = [
        {
          kind: 'STATUS_CHANGED',
          status: 'ASSIGNED',
          run: () =>
            gql(server, actors.scheduler, 'mutation($id: ID!, $s: ID!) { assignTicket(id: $id, staffId: $s) { id } }', { id, s: String(actors.staff.id) }),
        },
        {
          kind: 'REPLY_ADDED',
          status: 'ASSIGNED',
          run: () => gql(server, actors.staff, 'mutation($id: ID!) { addReply(ticketId: $id, content: "on it") { id } }', { id }),
        },
        { kind: 'STATUS_CHANGED', status: 'FIXED', run: () => gql(server, actors.staff, 'mutation($id: ID!) { fixTicket(id: $id) { id } }', { id }) },
        { kind: 'STATUS_CHANGED', status: 'CLOSED', run: () => gql(server, actors.scheduler, 'mutation($id: ID!) { closeTicket(id: $id) { id } }', { id }) },
      ];
      for (const step of steps) {
        // Refused attempts by others first: none of them may produce an event.
        await Promise.all([
          gql(server, userOf('otherCustomer'), 'mutation($id: ID!) { cancelTicket(id: $id) { id } }', { id }),
          legacy(server, userOf('otherStaff'), 'edit-ticket', { uuid: id, status: 'FIXED' }),
          gql(server, userOf('multi'), 'mutation($id: ID!) { addReply(ticketId: $id, content: "not mine") { id } }', { id }),
        ]);
        await step.run();
        events++;
        await delivered();
      }
      await settled(server);
      const got = Object.fromEntries(
        AUTHENTICATED.map((viewer) => [
          viewer,
          streams[viewer].events.filter((event) => event.ticket.id === id).map((event) => `${event.kind} ${event.ticket.status}`),
        ]),
      );
      // Who may see the ticket after each event (the creation first: NEW, the owner and schedulers).
      const timeline: Array<{ kind: string; status: StatusName }> = [{ kind: 'CREATED', status: 'NEW' }, ...steps];
      const want = Object.fromEntries(
        AUTHENTICATED.map((viewer) => [
          viewer,
          timeline.filter((event) => relation(viewer, event.status).sees).map((event) => `${event.kind} ${event.status}`),
        ]),
      );
      tried.subscriptions += AUTHENTICATED.length * timeline.length;
      expect(got).toEqual(want);
      expect(AUTHENTICATED.flatMap((viewer) => streams[viewer].errors)).toEqual([]);
      for (const viewer of AUTHENTICATED) streams[viewer].stop();
    });
  });
  describe('people: sign-in tokens, the directory and the lifecycle (issue 11)', () => {
    /**
     * Who may do what to users, from the issue: the directory (`users`, `user` of someone else)
     * is for schedulers and administrators, everyone sees themselves; `sessions` of someone else,
     * `userAudit`, `updateUser`, `resetPassword` and revoking someone else's session are for
     * administrators; `logout` needs a token (a credential is BAD_USER_INPUT); `changePassword`
     * proves the current password (a wrong one is BAD_USER_INPUT). Refusals change nothing.
     */
    type PeopleOperation =
      | 'users'
      | 'userSelf'
      | 'userOther'
      | 'sessionsOwn'
      | 'sessionsOther'
      | 'userAudit'
      | 'updateUser'
      | 'resetPassword'
      | 'revokeSession'
      | 'logout'
      | 'changePasswordWrong';
    const DIRECTORY = (viewer: ViewerName) => ROLES[viewer].includes('scheduler') || viewer === 'admin';
    const ADMIN_ONLY = (viewer: ViewerName) => viewer === 'admin';
    const PEOPLE_RULES: Record<PeopleOperation, (viewer: ViewerName) => 'OK' | 'FORBIDDEN' | 'BAD_USER_INPUT'> = {
      users: (viewer) => (DIRECTORY(viewer) ? 'OK' : 'FORBIDDEN'),
      userSelf: () => 'OK',
      userOther: (viewer) => (DIRECTORY(viewer) ? 'OK' : 'FORBIDDEN'),
      sessionsOwn: () => 'OK',
      sessionsOther: (viewer) => (ADMIN_ONLY(viewer) ? 'OK' : 'FORBIDDEN'),
      userAudit: (viewer) => (ADMIN_ONLY(viewer) ? 'OK' : 'FORBIDDEN'),
      updateUser: (viewer) => (ADMIN_ONLY(viewer) ? 'OK' : 'FORBIDDEN'),
      resetPassword: (viewer) => (ADMIN_ONLY(viewer) ? 'OK' : 'FORBIDDEN'),
      revokeSession: (viewer) => (ADMIN_ONLY(viewer) ? 'OK' : 'FORBIDDEN'),
      logout: () => 'BAD_USER_INPUT',
      changePasswordWrong: () => 'BAD_USER_INPUT',
    };
    const PEOPLE_OPERATIONS = Object.keys(PEOPLE_RULES) as PeopleOperation[];
    /** Operations that change something when they succeed: refused first, allowed afterwards. */
    const WRITES: readonly PeopleOperation[] = ['updateUser', 'resetPassword', 'revokeSession'];
    const expectedPeople = (operation: PeopleOperation, viewer: ViewerName): string =>
      AUTHENTICATED.includes(viewer) ? PEOPLE_RULES[operation](viewer) : 'UNAUTHENTICATED';

    let target: { id: number; username: string; sessionId: string };

    beforeAll(async () => {
      const username = `matrix-target-${kind}`;
      const created = await gql(server, userOf('admin'), 'mutation($input: CreateUserInput!) { createUser(input: $input) { id } }', {
        input: { username, password: 'a target password', roles: ['STAFF'] },
      });
      const signedIn = await gql(server, null, 'mutation { login(username: "' + username + '", password: "a target password") { id } }');
      target = { id: Number(created.data!.createUser.id), username, sessionId: signedIn.data!.login.id };
    });

    const runPeople = async (operation: PeopleOperation, viewer: ViewerName): Promise<string> => {
      const user = userOf(viewer);
      const self = AUTHENTICATED.includes(viewer) ? idOf(viewer) : target.id;
      const documents: Record<PeopleOperation, [string, Record<string, unknown>?]> = {
        users: ['{ users(first: 5) { edges { node { id } } } }'],
        userSelf: ['query($id: ID!) { user(id: $id) { id } }', { id: self }],
        userOther: ['query($id: ID!) { user(id: $id) { id } }', { id: target.id }],
        sessionsOwn: ['{ sessions { id } }'],
        sessionsOther: ['query($id: ID) { sessions(userId: $id) { id } }', { id: target.id }],
        userAudit: ['query($id: ID!) { userAudit(userId: $id) { action } }', { id: target.id }],
        updateUser: ['mutation($id: ID!) { updateUser(id: $id, input: { roles: [STAFF, CUSTOMER] }) { roles } }', { id: target.id }],
        resetPassword: ['mutation($id: ID!) { resetPassword(id: $id, newPassword: "a reset password") }', { id: target.id }],
        revokeSession: ['mutation($id: ID!) { revokeSession(id: $id) }', { id: target.sessionId }],
        logout: ['mutation { logout }'],
        changePasswordWrong: ['mutation { changePassword(currentPassword: "certainly not it", newPassword: "a brand new password") }'],
      };
      const [query, variables] = documents[operation];
      const result = await gql(server, user, query, variables);
      tried.graphql += 1;
      return result.errors?.length ? String(result.errors[0].extensions?.code) : 'OK';
    };

    it('refuses every people operation the issue refuses, with its code, and a refusal changes nothing', async () => {
      const before = await fingerprint(server);
      const got: Record<string, string> = {};
      const want: Record<string, string> = {};
      for (const operation of PEOPLE_OPERATIONS) {
        for (const viewer of VIEWERS) {
          const expectation = expectedPeople(operation, viewer);
          // Successful writes are the next test's; everything else runs here.
          if (expectation === 'OK' && WRITES.includes(operation)) continue;
          got[`${operation} ${viewer}`] = await runPeople(operation, viewer);
          want[`${operation} ${viewer}`] = expectation;
        }
      }
      expect(got).toEqual(want);
      // Reads and refusals leave no trace (a session's last use is not a change of the data).
      const after = await fingerprint(server);
      const { sessions: _sessionsBefore, ...restBefore } = before;
      const { sessions: _sessionsAfter, ...restAfter } = after;
      expect(restAfter).toEqual(restBefore);
      expect(after.sessions.rows).toBe(before.sessions.rows);
    });

    it('lets the administrator do each people write the issue allows, with its effect; login needs no credential', async () => {
      const got: Record<string, string> = {};
      for (const operation of WRITES) got[operation] = await runPeople(operation, 'admin');
      expect(got).toEqual({ updateUser: 'OK', resetPassword: 'OK', revokeSession: 'OK' });
      const roles = await gql(server, userOf('admin'), 'query($id: ID!) { user(id: $id) { roles } }', { id: target.id });
      expect(roles.data?.user.roles).toEqual(['CUSTOMER', 'STAFF']);
      const LOGIN_AS = 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { user { id } } }';
      const old = await gql(server, null, LOGIN_AS, { u: target.username, p: 'a target password' });
      const fresh = await gql(server, null, LOGIN_AS, { u: target.username, p: 'a reset password' });
      tried.graphql += 2;
      expect([errorCodeOf(old), fresh.data?.login.user.id]).toEqual(['UNAUTHENTICATED', String(target.id)]);
    });
  });
});
