import { decodeEventCursor } from '../../src/modules/event/event-cursor';
import { STATUS_CODE, type TicketStatus } from '../../src/modules/ticket/ticket-status';
import { gqlOk } from '../support/http';
import { DATABASES, startServer, type TestServer, type TestUser } from '../support/server';

/**
 * Issue 12's "done means", end to end over HTTP as a dispatcher's dashboard would run it: one
 * staff member's open tickets, oldest first, searched by a Chinese word, with counts by status,
 * kept current by a poller that follows `ticketEventLog` while two writers keep the help desk busy.
 *
 * What is simulated: "an hour of writes" is its volume, not its duration. WRITES changes (one
 * every 5 s of a busy hour: files, assignments, replies with and without the word, reply
 * deletions, edits, every transition, reassignments) are sent back to back by two concurrent
 * clients, so the run takes seconds; the stored timestamps are the real ones. The poller's only
 * state between polls is its cursor, as a client that restarts would keep it.
 *
 * Checked at the end: the poller saw every event of the log once, in order (against the table);
 * one event per write; the state it built from the feed alone (each event carries the ticket as
 * it is now) equals the database; and the dashboard's list, paged oldest first, and its counts
 * equal what that feed-built state says they must be.
 */

const WRITES = Number(process.env.DASHBOARD_WRITES ?? 720);
const WORD = '打印机';
const OPEN: TicketStatus[] = ['ASSIGNED', 'IN_PROCESSING', 'REQUEST_INFORMATION'] as TicketStatus[];

const FEED = `query($after: String) {
  ticketEventLog(after: $after, first: 50) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { kind at ticket { id status createdAt updatedAt content staff { id } replies { content } } } }
  }
}`;

const DASHBOARD = `query($filter: TicketFilter, $after: String) {
  tickets(filter: $filter, orderBy: { field: CREATED_AT, direction: ASC }, first: 7, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id status createdAt } }
  }
  ticketStats(filter: $filter) { total byStatus { status count } }
}`;

interface Snapshot {
  id: string;
  status: TicketStatus;
  createdAt: string;
  updatedAt: string;
  content: string;
  staff: { id: string } | null;
  replies: Array<{ content: string }>;
}

describe.each(DATABASES)("a dispatcher's dashboard following the change feed through a long stream of writes (%s)", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server?.close());

  it(`${WRITES} writes from two clients: the poller misses none and repeats none, and the dashboard equals the feed`, async () => {
    const { customer, otherCustomer, staff, otherStaff, scheduler } = server.users;
    const mutate = (user: TestUser, query: string, variables: Record<string, unknown>) => gqlOk(server, user, query, variables);

    /** One ticket's life, a write per step; the writer interleaves many of them. */
    async function* life(n: number, owner: TestUser): AsyncGenerator<void, void, void> {
      const content = n % 3 === 0 ? `我的${WORD}坏了 #${n}` : n % 3 === 1 ? `The printer is on fire #${n}` : `网络断了 #${n}`;
      const id = (await mutate(owner, 'mutation($c: String!) { createTicket(input: { content: $c }) { id } }', { c: content })).createTicket.id;
      tickets++;
      yield;
      let assignee = n % 2 ? staff : otherStaff;
      const assign = async (to: TestUser) =>
        mutate(scheduler, 'mutation($id: ID!, $s: ID!) { assignTicket(id: $id, staffId: $s) { id } }', { id, s: String(to.id) });
      const move = async (user: TestUser, operation: string) => mutate(user, `mutation($id: ID!) { ${operation}(id: $id) { id } }`, { id });
      await assign(assignee);
      yield;
      const replyText = n % 4 === 1 ? `${WORD}还是不行` : 'any news?';
      const replyId = (await mutate(owner, 'mutation($id: ID!, $c: String!) { addReply(ticketId: $id, content: $c) { id } }', { id, c: replyText })).addReply
        .id;
      yield;
      await move(assignee, 'startProcessing');
      yield;
      if (n % 3 !== 2) {
        await move(assignee, 'requestInformation');
        yield;
        await mutate(owner, 'mutation($id: ID!, $c: String!) { editTicket(id: $id, input: { content: $c }) { id } }', {
          id,
          c: n % 5 === 0 ? `${content}, 打印机型号 HP` : `${content} (edited)`,
        });
        yield;
        if (n % 4 === 1) {
          await mutate(owner, 'mutation($id: ID!) { deleteReply(id: $id) }', { id: replyId });
          yield;
        }
        await move(assignee, 'startProcessing');
        return;
      }
      await move(assignee, 'fixTicket');
      yield;
      if (n % 2) {
        await move(scheduler, 'closeTicket');
        return;
      }
      await move(owner, 'reopenTicket');
      yield;
      assignee = assignee === staff ? otherStaff : staff;
      await assign(assignee);
    }

    let writes = 0;
    let lives = 0;
    let tickets = 0;
    /** A client writing as fast as it is answered, advancing one of `lanes` tickets at a time. */
    async function writer(owner: TestUser, lanes: number, share: number, seed: number): Promise<void> {
      const running: Array<AsyncGenerator<void, void, void>> = [];
      let random = seed;
      for (let done = 0; done < share;) {
        while (running.length < lanes) running.push(life(lives++, owner));
        random = (random * 1103515245 + 12345) % 2 ** 31;
        const lane = random % running.length;
        const step = await running[lane].next();
        // A finished life's last write happened in the call that returned done.
        done++;
        writes++;
        if (step.done) running.splice(lane, 1);
      }
      // The lives cut short stay where they are: tickets in every status.
    }

    // The poller: its cursor is all it keeps; each page updates the state built from the feed.
    const state = new Map<string, Snapshot>();
    const seen: number[] = [];
    let after: string | null = null;
    let refreshes = 0;
    const filter = { staffId: String(staff.id), status: OPEN, search: WORD };
    async function drain(): Promise<boolean> {
      let changed = false;
      for (;;) {
        const page: any = (await gqlOk(server, scheduler, FEED, { after })).ticketEventLog;
        for (const edge of page.edges) {
          seen.push(decodeEventCursor(edge.cursor, 'cursor'));
          state.set(edge.node.ticket.id, edge.node.ticket);
          changed = true;
        }
        after = page.pageInfo.endCursor ?? after;
        if (!page.pageInfo.hasNextPage) return changed;
      }
    }
    let writing = true;
    const started = Date.now();
    const writers = Promise.all([writer(customer, 6, Math.ceil(WRITES / 2), 7), writer(otherCustomer, 6, Math.floor(WRITES / 2), 11)]).finally(() => {
      writing = false;
    });
    while (writing) {
      // The dashboard re-asks its list and counts when the feed reports a change (one statement each).
      if (await drain()) {
        await gqlOk(server, scheduler, DASHBOARD, { filter });
        refreshes++;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await writers;
    await drain();
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write(
      `[${kind}] ${writes} writes on ${tickets} tickets in ${seconds.toFixed(1)} s, ${seen.length} events polled, ${refreshes} dashboard refreshes\n`,
    );

    // Every event of the log, once, in order; one per write.
    const log = await server.app.database.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ seq: string | number }>>('select seq from ticket_events order by seq', [], 'all');
    expect(seen).toEqual(log.map((row: { seq: string | number }) => Number(row.seq)));
    expect(seen.length).toBe(WRITES);
    expect(refreshes).toBeGreaterThan(1);

    // The state built from the feed alone is the database's.
    const truth = new Map<string, Snapshot>();
    for (let cursor: string | null = null; ;) {
      const page: any = (
        await gqlOk(
          server,
          scheduler,
          'query($after: String) { tickets(first: 100, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id status createdAt updatedAt content staff { id } replies { content } } } } }',
          {
            after: cursor,
          },
        )
      ).tickets;
      for (const edge of page.edges) truth.set(edge.node.id, edge.node);
      if (!page.pageInfo.hasNextPage) break;
      cursor = page.pageInfo.endCursor;
    }
    expect(truth.size).toBe(tickets);
    expect(new Map([...state].sort())).toEqual(new Map([...truth].sort()));

    // The dashboard, paged oldest first, and its counts: what the feed-built state says.
    const mentions = (t: Snapshot) => [t.content, ...t.replies.map((r) => r.content)].some((text) => text.includes(WORD));
    const want = [...state.values()]
      .filter((t) => t.staff?.id === String(staff.id) && OPEN.includes(t.status) && mentions(t))
      .sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt) || (a.id < b.id ? -1 : 1));
    expect(want.length).toBeGreaterThan(3);
    const listed: string[] = [];
    let stats: { total: number; byStatus: Array<{ status: TicketStatus; count: number }> } | undefined;
    for (let cursor: string | null = null; ;) {
      const data: any = await gqlOk(server, scheduler, DASHBOARD, { filter, after: cursor });
      expect(data.tickets.totalCount).toBe(want.length);
      stats = data.ticketStats;
      listed.push(...data.tickets.edges.map((edge: { node: { id: string } }) => edge.node.id));
      if (!data.tickets.pageInfo.hasNextPage) break;
      cursor = data.tickets.pageInfo.endCursor;
    }
    expect(listed).toEqual(want.map((t) => t.id));
    expect(stats!.total).toBe(want.length);
    const byStatus = Object.fromEntries(stats!.byStatus.filter((s) => s.count > 0).map((s) => [s.status, s.count]));
    const wantByStatus: Record<string, number> = {};
    for (const t of want) wantByStatus[t.status] = (wantByStatus[t.status] ?? 0) + 1;
    expect(byStatus).toEqual(wantByStatus);
    expect(Object.keys(byStatus).every((status) => STATUS_CODE[status as TicketStatus] !== undefined)).toBe(true);
  }, 600_000);
});
