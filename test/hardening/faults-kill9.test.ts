import { PGlite } from '@electric-sql/pglite';
import { randomBytes, randomInt } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { statusFromCode, TicketStatus } from '../../src/modules/ticket/ticket-status';
import { ALL_OPERATIONS, OPERATION_RULES } from '../../src/modules/ticket/ticket.rules';
import type { TestUser } from '../support/server';
import { createPostgresDatabase, DATABASES } from '../support/server';
import { provisionCast, spawnServer, type Cast, type ServerProcess } from '../support/faults';
import { scratchDir } from '../support/scratch';

/**
 * `kill -9` in the middle of a burst of writes (docs/contract.md hardening, "Faults"), on the embedded
 * database (DATA_DIR on disk) and on PostgreSQL: eight clients create tickets, walk them through
 * the workflow and reply, over GraphQL and the legacy endpoint alike, and log every write that was
 * acknowledged (2xx, no error). The compiled server is SIGKILLed mid-burst, restarted on the same
 * DATA_DIR / DATABASE_URL, and the burst goes on; after several rounds:
 *
 * - every acknowledged write is there (ticket, status in its history, reply);
 * - each ticket's history is a path the rule table allows, from NEW to the ticket's status;
 * - the event log has exactly one event per history entry (CREATED / STATUS_CHANGED, same actor,
 *   same order) and one REPLY_ADDED per reply, and no event without its change.
 */

const ROUNDS = 3;
const LANES = 8;

type Ack =
  | { readonly kind: 'create'; readonly ticketId: string }
  | { readonly kind: 'status'; readonly ticketId: string; readonly status: TicketStatus }
  | { readonly kind: 'reply'; readonly ticketId: string; readonly replyId: string };

type Actor = 'customer' | 'staff' | 'scheduler';
type Step =
  | { readonly actor: Actor; readonly via: 'graphql' | 'legacy'; readonly to: TicketStatus }
  | { readonly actor: Actor; readonly via: 'graphql' | 'legacy'; readonly reply: true };

const S = TicketStatus;
/** A ticket's life in the burst: every transition kind the workflow has but cancel, both transports. */
const WALK: readonly Step[] = [
  { actor: 'scheduler', via: 'graphql', to: S.ASSIGNED },
  { actor: 'customer', via: 'legacy', reply: true },
  { actor: 'staff', via: 'legacy', to: S.IN_PROCESSING },
  { actor: 'staff', via: 'graphql', to: S.REQUEST_INFORMATION },
  { actor: 'customer', via: 'graphql', reply: true },
  { actor: 'staff', via: 'graphql', to: S.IN_PROCESSING },
  { actor: 'staff', via: 'legacy', to: S.FIXED },
  { actor: 'customer', via: 'graphql', to: S.REOPEN },
  { actor: 'scheduler', via: 'legacy', to: S.ASSIGNED },
  { actor: 'staff', via: 'graphql', to: S.FIXED },
  { actor: 'scheduler', via: 'graphql', to: S.CLOSED },
];

const MUTATION_INTO: Partial<Record<TicketStatus, string>> = {
  [S.ASSIGNED]: 'assignTicket',
  [S.IN_PROCESSING]: 'startProcessing',
  [S.REQUEST_INFORMATION]: 'requestInformation',
  [S.FIXED]: 'fixTicket',
  [S.REOPEN]: 'reopenTicket',
  [S.CLOSED]: 'closeTicket',
};
const LEGACY_STATUS: Partial<Record<TicketStatus, string>> = {
  [S.ASSIGNED]: 'ASSIGNED',
  [S.IN_PROCESSING]: 'IN PROCESSING',
  [S.FIXED]: 'FIXED',
};

/** Every `from → to` some operation of the rule table allows. */
const ALLOWED_MOVES = new Set(
  ALL_OPERATIONS.flatMap((operation) => {
    const rule = OPERATION_RULES[operation];
    return rule.to ? rule.from.map((from) => `${from}->${rule.to}`) : [];
  }),
);

class Unanswered extends Error {}

/** POSTs JSON; resolves to the body of a 2xx answer without GraphQL errors, else throws. */
async function post(url: string, body: unknown, credential?: string): Promise<any> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(credential ? { authorization: `Credential ${credential}` } : {}) },
      body: JSON.stringify(body),
    });
  } catch (error) {
    throw new Unanswered(String(error));
  }
  const text = await response.text().catch((error: unknown) => {
    throw new Unanswered(String(error));
  });
  const parsed = JSON.parse(text);
  if (response.status < 200 || response.status >= 300 || parsed.errors) throw new Error(`${response.status} ${text.slice(0, 300)}`);
  return parsed;
}

/** What a burst does: one lane = one client working its own tickets one request at a time. */
async function lane(server: ServerProcess, cast: Cast, index: number, acks: Ack[], state: { running: boolean; inFlight: number }): Promise<void> {
  const gql = (user: TestUser, query: string, variables: Record<string, unknown>) =>
    post(`${server.url}/graphql`, { query, variables }, user.credential).then((body) => body.data);
  const legacy = (user: TestUser, action: string, fields: Record<string, unknown>) =>
    post(`${server.url}/api/ticket`, { action, credential: user.credential, ...fields });
  const send = async <T>(write: () => Promise<T>): Promise<T | undefined> => {
    if (!state.running) return undefined;
    state.inFlight++;
    try {
      return await write();
    } catch (error) {
      if (error instanceof Unanswered && !state.running) return undefined;
      throw error;
    } finally {
      state.inFlight--;
    }
  };

  for (let round = 0; state.running; round++) {
    const content = `lane ${index} ticket ${round}`;
    const created = await send(async () =>
      (index + round) % 2 === 0
        ? ((await gql(cast.customer, 'mutation($content: String!) { createTicket(input: { content: $content }) { id } }', { content })).createTicket
            .id as string)
        : ((await legacy(cast.customer, 'create-ticket', { content })).uuid as string),
    );
    if (created === undefined) return;
    acks.push({ kind: 'create', ticketId: created });

    for (const step of WALK) {
      const user = cast[step.actor];
      if ('reply' in step) {
        const replyContent = `reply from lane ${index}`;
        const replyId = await send(async () =>
          step.via === 'graphql'
            ? ((
                await gql(user, 'mutation($id: ID!, $content: String!) { addReply(ticketId: $id, content: $content) { id } }', {
                  id: created,
                  content: replyContent,
                })
              ).addReply.id as string)
            : ((await legacy(user, 'ticket-reply-create', { uuid: created, reply: { userid: user.id, content: replyContent } })).uuid as string),
        );
        if (replyId === undefined) return;
        acks.push({ kind: 'reply', ticketId: created, replyId });
      } else {
        const assign = step.to === S.ASSIGNED;
        const done = await send(async () => {
          if (step.via === 'graphql') {
            const mutation = MUTATION_INTO[step.to]!;
            await gql(
              user,
              assign
                ? `mutation($id: ID!, $staff: ID!) { ${mutation}(id: $id, staffId: $staff) { id } }`
                : `mutation($id: ID!) { ${mutation}(id: $id) { id } }`,
              { id: created, ...(assign ? { staff: String(cast.staff.id) } : {}) },
            );
          } else {
            await legacy(user, 'edit-ticket', { uuid: created, status: LEGACY_STATUS[step.to], ...(assign ? { 'staff-id': cast.staff.id } : {}) });
          }
          return true;
        });
        if (done === undefined) return;
        acks.push({ kind: 'status', ticketId: created, status: step.to });
      }
    }
  }
}

interface Rows {
  tickets: Array<{ id: string; status: number }>;
  history: Array<{ ticket_id: string; status: number; actor_id: number }>;
  replies: Array<{ id: string; ticket_id: string; deleted_at: unknown }>;
  events: Array<{ seq: string | number; kind: string; ticket_id: string; actor_id: number; reply_id: string | null }>;
}

const QUERIES: Record<keyof Rows, string> = {
  tickets: 'select id, status from tickets',
  history: 'select ticket_id, status, actor_id from ticket_history order by ticket_id, id',
  replies: 'select id, ticket_id, deleted_at from replies',
  events: 'select seq, kind, ticket_id, actor_id, reply_id from ticket_events order by seq',
};

/** Reads the tables straight from the database (the server is stopped). */
async function readRows(kind: 'embedded' | 'postgres', location: string): Promise<Rows> {
  const rows = {} as Rows;
  if (kind === 'embedded') {
    const pglite = new PGlite({ dataDir: path.join(location, 'pglite') });
    try {
      for (const [name, sql] of Object.entries(QUERIES)) (rows as any)[name] = (await pglite.query(sql)).rows;
    } finally {
      await pglite.close();
    }
  } else {
    const client = new Client({ connectionString: location });
    await client.connect();
    try {
      for (const [name, sql] of Object.entries(QUERIES)) (rows as any)[name] = (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  }
  return rows;
}

/** Problems found: acknowledged writes missing, invalid histories, events out of step with changes. */
function audit(rows: Rows, acks: readonly Ack[]): string[] {
  const problems: string[] = [];
  const tickets = new Map(rows.tickets.map((ticket) => [ticket.id, statusFromCode(ticket.status)]));
  const history = new Map<string, Array<{ status: TicketStatus; actor: number }>>();
  for (const entry of rows.history) {
    const list = history.get(entry.ticket_id) ?? [];
    list.push({ status: statusFromCode(entry.status), actor: entry.actor_id });
    history.set(entry.ticket_id, list);
  }
  const replies = new Map(rows.replies.map((reply) => [reply.id, reply]));

  // Every acknowledged write is there; per ticket, the acknowledged statuses are, in order, the
  // start of its history (a write that committed but whose answer was lost may follow them).
  const ackedStatuses = new Map<string, TicketStatus[]>();
  for (const ack of acks) {
    if (!tickets.has(ack.ticketId)) problems.push(`acknowledged ticket ${ack.ticketId} is missing`);
    if (ack.kind === 'create') ackedStatuses.set(ack.ticketId, [S.NEW]);
    if (ack.kind === 'status') ackedStatuses.get(ack.ticketId)!.push(ack.status);
    if (ack.kind === 'reply' && replies.get(ack.replyId)?.ticket_id !== ack.ticketId) problems.push(`acknowledged reply ${ack.replyId} is missing`);
  }
  for (const [ticketId, statuses] of ackedStatuses) {
    const actual = (history.get(ticketId) ?? []).map((entry) => entry.status);
    const prefix = actual.slice(0, statuses.length);
    if (prefix.join() !== statuses.join()) problems.push(`ticket ${ticketId}: acknowledged ${statuses.join(' → ')}, history ${actual.join(' → ')}`);
  }

  // Each history is a path of the rule table ending at the ticket's status.
  for (const [ticketId, status] of tickets) {
    const path = (history.get(ticketId) ?? []).map((entry) => entry.status);
    if (path[0] !== S.NEW) problems.push(`ticket ${ticketId}: history starts with ${path[0]}`);
    for (let i = 1; i < path.length; i++) {
      if (!ALLOWED_MOVES.has(`${path[i - 1]}->${path[i]}`)) problems.push(`ticket ${ticketId}: ${path[i - 1]} → ${path[i]} is not a move`);
    }
    if (path[path.length - 1] !== status) problems.push(`ticket ${ticketId}: status ${status}, history ends with ${path[path.length - 1]}`);
  }

  // One event per change, in the same order, by the same actor; none without its change.
  const statusEvents = new Map<string, Array<{ kind: string; actor: number }>>();
  const replyEvents = new Map<string, number>();
  for (const event of rows.events) {
    if (!tickets.has(event.ticket_id)) problems.push(`event ${event.seq} for a missing ticket`);
    if (event.kind === 'CREATED' || event.kind === 'STATUS_CHANGED') {
      const list = statusEvents.get(event.ticket_id) ?? [];
      list.push({ kind: event.kind, actor: event.actor_id });
      statusEvents.set(event.ticket_id, list);
    } else if (event.kind === 'REPLY_ADDED') {
      if (!event.reply_id || replies.get(event.reply_id)?.ticket_id !== event.ticket_id) problems.push(`event ${event.seq}: REPLY_ADDED without its reply`);
      else replyEvents.set(event.reply_id, (replyEvents.get(event.reply_id) ?? 0) + 1);
    } else {
      problems.push(`event ${event.seq}: unexpected ${event.kind} (the burst neither edits nor deletes)`);
    }
  }
  for (const ticketId of tickets.keys()) {
    const entries = history.get(ticketId) ?? [];
    const events = statusEvents.get(ticketId) ?? [];
    const expected = entries.map((entry, i) => `${i === 0 ? 'CREATED' : 'STATUS_CHANGED'} by ${entry.actor}`).join(', ');
    const actual = events.map((event) => `${event.kind} by ${event.actor}`).join(', ');
    if (expected !== actual) problems.push(`ticket ${ticketId}: history [${expected}], events [${actual}]`);
  }
  for (const reply of rows.replies) {
    const count = replyEvents.get(reply.id) ?? 0;
    if (count !== 1) problems.push(`reply ${reply.id}: ${count} REPLY_ADDED events`);
  }
  return problems;
}

describe.each(DATABASES)('kill -9 in the middle of a burst of writes (%s)', (kind) => {
  let dataDir: string;
  let database: { url: string; drop: () => Promise<void> } | undefined;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    dataDir = scratchDir('helpdesk-kill9-');
    if (kind === 'postgres') database = await createPostgresDatabase();
  });

  afterAll(async () => {
    await server?.stop('SIGKILL');
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(`loses no acknowledged write over ${ROUNDS} kills, and history and event log stay consistent`, async () => {
    const key = randomBytes(32);
    const start = () => spawnServer({ dataDir, databaseUrl: database?.url, credentialKey: key });
    server = await start();
    const cast = await provisionCast(server.url, key);
    const acks: Ack[] = [];
    const rounds: Array<Record<string, number>> = [];

    for (let round = 0; round < ROUNDS; round++) {
      const running = server;
      const state = { running: true, inFlight: 0 };
      const acksBefore = acks.length;
      const killAfter = acksBefore + randomInt(60, 140);
      const lanes = Array.from({ length: LANES }, (_, index) => lane(running, cast, round * LANES + index, acks, state));
      const failed = Promise.all(lanes).then(() => undefined);
      // Kill as soon as enough writes were acknowledged, whatever is in flight then.
      while (acks.length < killAfter) {
        const outcome = await Promise.race([failed.then(() => 'ended' as const), new Promise((resolve) => setTimeout(resolve, 2))]);
        if (outcome === 'ended') throw new Error('The burst stopped before the kill');
      }
      const inFlight = state.inFlight;
      running.child.kill('SIGKILL');
      state.running = false;
      const exit = await running.exited;
      expect(exit.signal).toBe('SIGKILL');
      await failed;

      const restarting = Date.now();
      server = await start();
      const recoveryMs = Date.now() - restarting;
      rounds.push({ acknowledged: acks.length - acksBefore, inFlightAtKill: inFlight, recoveryMs });
    }

    // Through the API of the restarted server: every acknowledged ticket, status and reply.
    const restarted = server;
    const ticketIds = [...new Set(acks.map((ack) => ack.ticketId))];
    const seen = new Map<string, { status: string; history: string[]; replies: Set<string> }>();
    for (const id of ticketIds) {
      const body = await post(
        `${restarted.url}/graphql`,
        { query: 'query($id: ID!) { ticket(id: $id) { status history { status } replies { id } } }', variables: { id } },
        cast.scheduler.credential,
      );
      const ticket = body.data.ticket;
      seen.set(id, {
        status: ticket.status,
        history: ticket.history.map((entry: { status: string }) => entry.status),
        replies: new Set(ticket.replies.map((reply: { id: string }) => reply.id)),
      });
    }
    const lostThroughApi = acks.filter((ack) => {
      const ticket = seen.get(ack.ticketId);
      if (!ticket) return true;
      if (ack.kind === 'status') return !ticket.history.includes(ack.status);
      if (ack.kind === 'reply') return !ticket.replies.has(ack.replyId);
      return false;
    });
    expect(lostThroughApi).toEqual([]);

    // Straight from the tables, after a clean stop: nothing lost, everything consistent.
    expect(await restarted.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    server = undefined;
    const rows = await readRows(kind, database?.url ?? dataDir);
    const problems = audit(rows, acks);
    // Each acknowledged write made one history entry (create, transition) or one reply.
    const committedUnanswered = rows.history.length + rows.replies.length - acks.length;
    const lost = problems.filter((problem) => problem.startsWith('acknowledged')).length;
    const count = (kind: Ack['kind']) => acks.filter((ack) => ack.kind === kind).length;
    console.log(
      `faults-kill9 (${kind}): ${ROUNDS} kills; ${acks.length} writes acknowledged (${count('create')} creates, ${count('status')} transitions, ` +
        `${count('reply')} replies), ${lost} lost; ${committedUnanswered} committed without an answer; ` +
        `${rows.tickets.length} tickets, ${rows.history.length} history entries, ${rows.replies.length} replies, ${rows.events.length} events; ` +
        `${problems.length} problems; rounds ${JSON.stringify(rounds)}`,
    );
    expect(problems.slice(0, 10)).toEqual([]);
    // Four server processes start here, each recovering the database: 6 to 16 s each on PostgreSQL
    // at load 15, longer on the embedded one, which ran out of 120 s. Nothing here is timed.
  }, 300_000);
});
