import type { TestServer, TestUser } from './server';

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: { code?: string; field?: string; [key: string]: unknown } }>;
}

/** Who a request is from: a credential (docs/contract.md), a sign-in token (`login`), or nobody. */
export type Signer = Pick<TestUser, 'credential'> | { readonly token: string } | null;

/** The Authorization header of a signer. */
export const authorizationOf = (user: Signer): Record<string, string> =>
  !user ? {} : 'token' in user ? { authorization: `Bearer ${user.token}` } : { authorization: `Credential ${user.credential}` };

/** POSTs a GraphQL operation as `user` (or anonymously) and returns status and body. */
export async function gql<T = Record<string, any>>(
  server: Pick<TestServer, 'url'>,
  user: Signer,
  query: string,
  variables?: Record<string, unknown>,
): Promise<GraphQLResponse<T>> {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...authorizationOf(user),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Omit<GraphQLResponse<T>, 'status'>;
  return { status: response.status, ...body };
}

/** Like gql, but fails the test on any error and returns `data`. */
export async function gqlOk<T = Record<string, any>>(
  server: Pick<TestServer, 'url'>,
  user: Signer,
  query: string,
  variables?: Record<string, unknown>,
): Promise<T> {
  const result = await gql<T>(server, user, query, variables);
  if (result.errors?.length || !result.data) {
    throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  }
  return result.data;
}

/** The `extensions.code` of the first error (undefined when none). */
export const errorCode = (result: GraphQLResponse): string | undefined => result.errors?.[0]?.extensions?.code;

export const TICKET_FIELDS = `
  id status content images createdAt updatedAt
  customer { id username roles }
  scheduler { id username }
  staff { id username }
  replies { id content author { id username } createdAt }
  history { id status actor { id username } at }
  permissions { reply edit assign startProcessing requestInformation fix close reopen cancel }
`;

/** Smallest valid PNG (1×1, transparent). */
export const PNG_BYTES = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');
/** Smallest GIF. */
export const GIF_BYTES = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

/** Uploads files to /uploads as multipart; returns status and body. */
export async function upload(
  server: Pick<TestServer, 'url'>,
  user: Signer,
  files: Array<{ bytes: Buffer; name?: string; type?: string }>,
): Promise<{ status: number; body: any }> {
  const form = new FormData();
  for (const [index, file] of files.entries()) {
    form.append('images', new Blob([file.bytes], { type: file.type ?? 'application/octet-stream' }), file.name ?? `image${index}.png`);
  }
  const response = await fetch(`${server.url}/uploads`, {
    method: 'POST',
    headers: authorizationOf(user),
    body: form,
  });
  return { status: response.status, body: await response.json() };
}

// ---------------------------------------------------------------------------------------------
// Ticket lifecycle helpers: put tickets into any status through the API, and perform any
// operation by name, so authorization, visibility and flag tests read as tables.
// ---------------------------------------------------------------------------------------------

export type StatusName = 'NEW' | 'ASSIGNED' | 'IN_PROCESSING' | 'REQUEST_INFORMATION' | 'FIXED' | 'CLOSED' | 'REOPEN' | 'CANCEL';

export const STATUS_NAMES: readonly StatusName[] = ['NEW', 'ASSIGNED', 'IN_PROCESSING', 'REQUEST_INFORMATION', 'FIXED', 'CLOSED', 'REOPEN', 'CANCEL'];

/** Who drives a ticket: the customer who files it, the staff member it goes to, the scheduler. */
export interface TicketActors {
  readonly owner: Pick<TestUser, 'credential'>;
  readonly staff: Pick<TestUser, 'id' | 'credential'>;
  readonly scheduler: Pick<TestUser, 'credential'>;
}

/** The fixture cast as actors: `customer` files, `scheduler` assigns to `staff`. */
export const defaultActors = (server: Pick<TestServer, 'users'>): TicketActors => ({
  owner: server.users.customer,
  staff: server.users.staff,
  scheduler: server.users.scheduler,
});

type Step = readonly [actor: 'owner' | 'staff' | 'scheduler', mutation: string];
const ASSIGN: Step = ['scheduler', 'assignTicket'];

/**
 * The shortest walk from NEW to each status. Every status but NEW goes through ASSIGNED, so the
 * staff member stays on the ticket (and keeps the `assignee` relation) in FIXED, CLOSED, REOPEN
 * and CANCEL too.
 */
export const WALKS: Readonly<Record<StatusName, readonly Step[]>> = {
  NEW: [],
  ASSIGNED: [ASSIGN],
  IN_PROCESSING: [ASSIGN, ['staff', 'startProcessing']],
  REQUEST_INFORMATION: [ASSIGN, ['staff', 'requestInformation']],
  FIXED: [ASSIGN, ['staff', 'fixTicket']],
  CLOSED: [ASSIGN, ['staff', 'fixTicket'], ['scheduler', 'closeTicket']],
  REOPEN: [ASSIGN, ['staff', 'fixTicket'], ['owner', 'reopenTicket']],
  CANCEL: [ASSIGN, ['owner', 'cancelTicket']],
};

/** Files a ticket as `owner`; returns its id. */
export async function createTicketAs(
  server: Pick<TestServer, 'url'>,
  owner: Pick<TestUser, 'credential'>,
  content = 'Something is broken',
  images?: string[],
): Promise<string> {
  const data = await gqlOk(server, owner, 'mutation($input: CreateTicketInput!) { createTicket(input: $input) { id } }', {
    input: { content, ...(images ? { images } : {}) },
  });
  return data.createTicket.id;
}

/** Replies to ticket `ticketId` as `author`; returns the reply's id. */
export async function replyAs(server: Pick<TestServer, 'url'>, author: Pick<TestUser, 'credential'>, ticketId: string, content: string): Promise<string> {
  const data = await gqlOk(server, author, 'mutation($id: ID!, $c: String!) { addReply(ticketId: $id, content: $c) { id } }', { id: ticketId, c: content });
  return data.addReply.id;
}

/** Moves a NEW ticket to `target` through the API, along {@link WALKS}. */
export async function walkTo(server: Pick<TestServer, 'url'>, id: string, target: StatusName, actors: TicketActors): Promise<void> {
  for (const [actor, mutation] of WALKS[target]) {
    const user = actor === 'owner' ? actors.owner : actor === 'staff' ? actors.staff : actors.scheduler;
    const args = mutation === 'assignTicket' ? ', staffId: $staffId' : '';
    const vars = mutation === 'assignTicket' ? ', $staffId: ID!' : '';
    await gqlOk(server, user, `mutation($id: ID!${vars}) { ${mutation}(id: $id${args}) { id } }`, {
      id,
      ...(mutation === 'assignTicket' ? { staffId: String(actors.staff.id) } : {}),
    });
  }
}

export interface TicketInOptions {
  content?: string;
  /** Add a reply by the owner while the ticket is still NEW; its id is returned. */
  reply?: boolean;
}

/** A fresh ticket in `status`; with `reply`, the id of a reply its owner wrote on it too. */
export async function ticketIn(
  server: Pick<TestServer, 'url'>,
  status: StatusName,
  actors: TicketActors,
  options: TicketInOptions = {},
): Promise<{ id: string; replyId?: string }> {
  const id = await createTicketAs(server, actors.owner, options.content ?? `A ticket that will be ${status}`);
  let replyId: string | undefined;
  if (options.reply) {
    const data = await gqlOk(server, actors.owner, 'mutation($id: ID!) { addReply(ticketId: $id, content: "first reply") { id } }', { id });
    replyId = data.addReply.id;
  }
  await walkTo(server, id, status, actors);
  return { id, replyId };
}

/** The operations a viewer can attempt, by their permission-flag name (plus deleteReply). */
export type OperationName = 'reply' | 'edit' | 'assign' | 'startProcessing' | 'requestInformation' | 'fix' | 'close' | 'reopen' | 'cancel' | 'deleteReply';

/** The GraphQL mutation each operation is. */
export const MUTATION_OF: Readonly<Record<OperationName, string>> = {
  reply: 'addReply',
  edit: 'editTicket',
  assign: 'assignTicket',
  startProcessing: 'startProcessing',
  requestInformation: 'requestInformation',
  fix: 'fixTicket',
  close: 'closeTicket',
  reopen: 'reopenTicket',
  cancel: 'cancelTicket',
  deleteReply: 'deleteReply',
};

/**
 * Attempts `operation` on a ticket as `user`. `assign` names `staffId` (required for it);
 * `deleteReply` deletes `replyId`.
 */
export function attempt(
  server: Pick<TestServer, 'url'>,
  user: Pick<TestUser, 'credential'>,
  operation: OperationName,
  target: { id: string; staffId?: number; replyId?: string },
): Promise<GraphQLResponse> {
  switch (operation) {
    case 'reply':
      return gql(server, user, 'mutation($id: ID!) { addReply(ticketId: $id, content: "a reply") { id } }', { id: target.id });
    case 'edit':
      return gql(server, user, 'mutation($id: ID!) { editTicket(id: $id, input: { content: "edited content" }) { id } }', { id: target.id });
    case 'assign':
      return gql(server, user, 'mutation($id: ID!, $staffId: ID!) { assignTicket(id: $id, staffId: $staffId) { id } }', {
        id: target.id,
        staffId: String(target.staffId),
      });
    case 'deleteReply':
      return gql(server, user, 'mutation($id: ID!) { deleteReply(id: $id) }', { id: target.replyId });
    default:
      return gql(server, user, `mutation($id: ID!) { ${MUTATION_OF[operation]}(id: $id) { id } }`, { id: target.id });
  }
}

/** Everything about a ticket a refused operation must leave alone (flags aside). */
export const SNAPSHOT_FIELDS = `
  id status content images createdAt updatedAt
  customer { id } scheduler { id } staff { id }
  replies { id content author { id } createdAt }
  history { id status actor { id } at }
`;

/** The ticket as `viewer` (a scheduler sees every ticket) reads it, for before/after comparisons. */
export async function snapshot(server: Pick<TestServer, 'url'>, viewer: Pick<TestUser, 'credential'>, id: string): Promise<Record<string, unknown>> {
  const data = await gqlOk(server, viewer, `query($id: ID!) { ticket(id: $id) { ${SNAPSHOT_FIELDS} } }`, { id });
  return data.ticket;
}
