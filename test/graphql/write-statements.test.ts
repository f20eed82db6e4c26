import { connect, EventStream, subscribers, type LiveClient } from '../support/live-client';
import { createTicketAs, errorCode, gql, gqlOk, walkTo } from '../support/http';
import { DATABASES, startServer, type TestServer, type TestUser } from '../support/server';
import { execute } from '../../src/db/sql';
import { UPDATE_USER } from '../support/people';
import { writeTransaction } from '../../src/db/write-transaction';
import { expandPrepared as expanded, normalized } from '../support/prepared-writes';
import { ALL_STATUSES, STATUS_CODE } from '../../src/modules/ticket/ticket-status';
import { ALL_OPERATIONS, decide, type TicketFacts } from '../../src/modules/ticket/ticket.rules';
import { ruleConditionSql, ruleParams } from '../../src/modules/ticket/ticket.rules.sql';
import { Role } from '../../src/modules/user/role';
import type { Viewer } from '../../src/modules/user/viewer';

/**
 * The write path's round trips (issue 15): a transition costs one — the statement that locks and
 * reads the ticket and the statement that updates it and appends history and event (and queues
 * the NOTIFY) only where the rule table allows it on that locked row (ticket.rules.sql.ts), in one
 * message, which PostgreSQL runs as one implicit transaction — and its answer is built from them,
 * with no read after the commit. A reply costs the same one; an assignment two (its staff member
 * is checked between).
 * `server.queries` records every message sent to the database, one per round trip, begin and
 * commit included. The write statements are prepared once per connection (SQL `PREPARE`, in the
 * message of their first use there) and sent as `execute <name>(<values>)`; `expanded` reads a
 * message with each name replaced by the statement it stands for (test/support/prepared-writes.ts).
 */

const AFTER = `id status updatedAt staff { id username } history { status actor { id username } }
  permissions { startProcessing requestInformation fix }`;
const REQUEST_INFORMATION = `mutation($id: ID!) { requestInformation(id: $id) { ${AFTER} } }`;
const START_PROCESSING = `mutation($id: ID!) { startProcessing(id: $id) { ${AFTER} } }`;
const DETAIL = `query($id: ID!) { ticket(id: $id) { ${AFTER} } }`;
const ADD_REPLY = 'mutation($id: ID!, $c: String!) { addReply(ticketId: $id, content: $c) { id content author { id } } }';

describe.each(DATABASES)('statements per write (%s)', (kind) => {
  let server: TestServer;
  let ticketId: string;
  const clients: LiveClient[] = [];

  /** Waits until no statement has been sent for a moment (the fan-out's reads settle). */
  async function quiet(): Promise<void> {
    let seen = -1;
    while (server.queries.length !== seen) {
      seen = server.queries.length;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** The statements of one request (the fan-out's own reads of the log, in the background, apart). */
  async function statementsOf(user: TestUser, run: () => Promise<unknown>): Promise<{ request: string[] }> {
    await gqlOk(server, user, '{ me { id } }');
    await quiet();
    server.queries.length = 0;
    await run();
    const request = [...server.queries];
    // The hub reads the log after a note, in the background and batched across writes.
    const isFanOut = (sql: string) => /\bfrom ticket_events e\b/.test(sql) || /max\(seq\)/.test(sql);
    return { request: request.filter((sql) => !isFanOut(sql)) };
  }

  beforeAll(async () => {
    server = await startServer(kind);
    const { customer, staff, scheduler } = server.users;
    ticketId = await createTicketAs(server, customer, 'statements per write');
    await walkTo(server, ticketId, 'IN_PROCESSING', { owner: customer, staff, scheduler });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await server?.close();
  });

  it('a transition is one round trip (the lock and read, the write: one implicit transaction) — and answers what a fresh read shows', async () => {
    const { staff } = server.users;
    let answer: Record<string, any> = {};
    const { request } = await statementsOf(staff, async () => {
      answer = (await gqlOk(server, staff, REQUEST_INFORMATION, { id: ticketId })).requestInformation;
    });
    // One message: the locking read and the write, both prepared statements, no begin or commit.
    expect(request.map(normalized)).toEqual([
      expect.stringMatching(/^(prepare hw_\w+ as .*;\s*)?execute hw_\w+\('[-0-9a-f]{36}'\);\s*execute hw_\w+\([^;]*\)$/),
    ]);
    expect(request.map(expanded)).toEqual([expect.stringMatching(/^with page as \(select t\.id.* for update of t\).*;\s*with changed as .*$/i)]);
    expect(request.join(';')).not.toMatch(/\b(begin|commit)\b/i);
    expect(answer.status).toBe('REQUEST_INFORMATION');
    expect(answer.history.map((entry: any) => entry.status)).toEqual(['NEW', 'ASSIGNED', 'IN_PROCESSING', 'REQUEST_INFORMATION']);
    expect(answer.history.at(-1).actor).toEqual({ id: String(staff.id), username: staff.username });
    // Built from the write, it equals what a read after the commit returns, permissions included.
    expect((await gqlOk(server, staff, DETAIL, { id: ticketId })).ticket).toEqual(answer);
    const back = await gqlOk(server, staff, START_PROCESSING, { id: ticketId });
    expect(back.startProcessing.status).toBe('IN_PROCESSING');
  });

  it("a write whose time is not after the ticket's last change writes nothing in its one message and runs again locked first", async () => {
    const { staff, customer } = server.users;
    const em = () => server.app.database.orm.em.fork();
    // Another process's clock an hour ahead (or a write that took the lock while this one waited).
    await execute(em(), `update tickets set updated_at = now() + interval '1 hour' where id = ?`, [ticketId]);
    const historyBefore = await execute<Array<{ id: string }>>(em(), 'select id from ticket_history where ticket_id = ? order by id', [ticketId]);
    let answer: Record<string, any> = {};
    const { request } = await statementsOf(staff, async () => {
      answer = (await gqlOk(server, staff, REQUEST_INFORMATION, { id: ticketId })).requestInformation;
    });
    expect(request.map(expanded)).toEqual([
      expect.stringMatching(/^with page as .* for update of t\).*;\s*with changed as (?!.*;\s*commit$).*$/i),
      expect.stringMatching(/^begin;\s*with page as .* for update of t\)/i),
      expect.stringMatching(/^with changed as .*;\s*commit$/i),
    ]);
    expect(answer.status).toBe('REQUEST_INFORMATION');
    expect((await gqlOk(server, staff, DETAIL, { id: ticketId })).ticket).toEqual(answer);
    // One history entry and one event more, the new entry last in id order.
    const historyAfter = await execute<Array<{ id: string }>>(em(), 'select id from ticket_history where ticket_id = ? order by id', [ticketId]);
    expect(historyAfter.slice(0, -1)).toEqual(historyBefore);
    expect(answer.history).toHaveLength(historyAfter.length);
    // A reply the same way: one message that wrote nothing, then two.
    await execute(em(), `update tickets set updated_at = now() + interval '1 hour' where id = ?`, [ticketId]);
    const { request: replying } = await statementsOf(customer, async () => {
      await gqlOk(server, customer, ADD_REPLY, { id: ticketId, c: 'after the clock' });
    });
    expect(replying.map(expanded)).toEqual([
      expect.stringMatching(/^with page as .*;\s*with reply as (?!.*;\s*commit$).*$/i),
      expect.stringMatching(/^begin;\s*with page as .* for update of t\)/i),
      expect.stringMatching(/^with reply as .*;\s*commit$/i),
    ]);
    await gqlOk(server, staff, START_PROCESSING, { id: ticketId });
  });

  it('a refused transition or reply (the rule table on the locked row) writes nothing and records no event', async () => {
    const { staff, customer, otherCustomer } = server.users;
    const before = (await gqlOk(server, staff, DETAIL, { id: ticketId })).ticket;
    const count = async (table: string) =>
      (await server.app.database.orm.em.fork().getConnection().execute(`select count(*)::int as n from ${table} where ticket_id = ?`, [ticketId], 'all'))[0].n;
    const counts = async () => ({ events: await count('ticket_events'), history: await count('ticket_history'), replies: await count('replies') });
    const written = await counts();
    expect(errorCode(await gql(server, staff, START_PROCESSING, { id: ticketId }))).toBe('CONFLICT');
    expect(errorCode(await gql(server, customer, REQUEST_INFORMATION, { id: ticketId }))).toBe('FORBIDDEN');
    expect(errorCode(await gql(server, otherCustomer, ADD_REPLY, { id: ticketId, c: 'not mine' }))).toBe('FORBIDDEN');
    const missing = '01a23aa1-0000-7000-8000-000000000000';
    expect(errorCode(await gql(server, staff, REQUEST_INFORMATION, { id: missing }))).toBe('NOT_FOUND');
    expect(errorCode(await gql(server, customer, ADD_REPLY, { id: missing, c: 'nowhere' }))).toBe('NOT_FOUND');
    expect((await gqlOk(server, staff, DETAIL, { id: ticketId })).ticket).toEqual(before);
    expect(await counts()).toEqual(written);
  });

  it("the write statements' rule condition allows exactly what the rule table allows, for every set of roles and operation", async () => {
    const em = server.app.database.orm.em.fork();
    const viewerId = 41;
    const people = [viewerId, viewerId + 1];
    const facts = ALL_STATUSES.flatMap((status) =>
      people.flatMap((customerId) => [null, ...people].map((staffId): TicketFacts => ({ status, customerId, staffId }))),
    );
    const rows = facts.map(() => '(?::int, ?::int, ?::int, ?::int)').join(', ');
    const values = facts.flatMap((ticket, index) => [STATUS_CODE[ticket.status], ticket.customerId, ticket.staffId, index]);
    const roleSets: Role[][] = [[]];
    for (const role of Object.values(Role)) for (const set of [...roleSets]) roleSets.push([...set, role]);
    for (const roles of roleSets) {
      const viewer: Viewer = { id: viewerId, username: 'v', roles, isAdmin: false };
      for (const operation of ALL_OPERATIONS) {
        const allowed = await execute<Array<{ i: number }>>(
          em,
          `select f.i from (values ${rows}) as f(status, customer_id, staff_id, i) where ${ruleConditionSql('f')} order by f.i`,
          [...values, ...ruleParams(viewer, operation)],
        );
        const expected = facts.flatMap((ticket, index) => (decide(viewer, operation, ticket).allowed ? [index] : []));
        expect([roles, operation, allowed.map((row) => row.i)]).toEqual([roles, operation, expected]);
      }
    }
  });

  it('an assignment reads its staff member in the locking statement: two round trips, and a non-staff id is BAD_USER_INPUT', async () => {
    const { customer, scheduler, staff } = server.users;
    const id = await createTicketAs(server, customer, 'to assign');
    const ASSIGN = 'mutation($id: ID!, $s: ID!) { assignTicket(id: $id, staffId: $s) { status staff { id username } scheduler { id } } }';
    const refused = await gql(server, scheduler, ASSIGN, { id, s: String(customer.id) });
    expect(errorCode(refused)).toBe('BAD_USER_INPUT');
    expect(refused.errors?.[0]?.message).toBe(`User ${customer.id} is not a staff member`);
    expect(errorCode(await gql(server, scheduler, ASSIGN, { id, s: '987654' }))).toBe('BAD_USER_INPUT');
    // The staff member's `active` travels in the same statement (a shared column of the read rows).
    const { admin } = server.users;
    const created = await gqlOk(server, admin, 'mutation($input: CreateUserInput!) { createUser(input: $input) { id } }', {
      input: { username: 'assign-inactive', password: 'a long enough password 1', roles: ['STAFF'] },
    });
    const inactiveId = created.createUser.id as string;
    await gqlOk(server, admin, UPDATE_USER, { id: inactiveId, input: { active: false } });
    const inactive = await gql(server, scheduler, ASSIGN, { id, s: inactiveId });
    expect(errorCode(inactive)).toBe('BAD_USER_INPUT');
    expect(inactive.errors?.[0]?.message).toBe(`User ${inactiveId} is deactivated`);
    let answer: Record<string, any> = {};
    const { request } = await statementsOf(scheduler, async () => {
      answer = (await gqlOk(server, scheduler, ASSIGN, { id, s: String(staff.id) })).assignTicket;
    });
    expect(request.length).toBe(2);
    expect(answer).toEqual({ status: 'ASSIGNED', staff: { id: String(staff.id), username: staff.username }, scheduler: { id: String(scheduler.id) } });
  });

  it('a reply is one round trip: the lock and read, the write (one implicit transaction)', async () => {
    const { customer } = server.users;
    let answer: Record<string, any> = {};
    const { request } = await statementsOf(customer, async () => {
      answer = (await gqlOk(server, customer, ADD_REPLY, { id: ticketId, c: 'counted' })).addReply;
    });
    expect(answer).toEqual({ id: expect.any(String), content: 'counted', author: { id: String(customer.id) } });
    expect(request.map(expanded)).toEqual([expect.stringMatching(/^with page as \(select t\.id.* for update of t\).*;\s*with reply as .*$/i)]);
    expect(request.join(';')).not.toMatch(/\b(begin|commit)\b/i);
  });

  it('with a subscriber, the writer process fans out without reading the event back', async () => {
    const { staff } = server.users;
    const live = connect(server, staff);
    clients.push(live);
    const stream = new EventStream(
      live.client,
      { ticketId },
      'subscription($ticketId: ID) { ticketEvents(ticketId: $ticketId) { kind ticket { id status } } }',
    );
    await subscribers(server, 1);
    const hub = server.app.live.hub!;
    // Every write fans out from what its writer knew: no log read, no ticket read back. On
    // PostgreSQL the writer's own NOTIFY often reaches the hub before the writer's answer; the hub
    // waits for its process's open writes instead of reading the log (event-hub.ts, LocalWrites).
    // The exceptions are the hub's periodic poll (PostgreSQL and Redis buses, every 2 s): a poll
    // whose log read runs just after a commit reads that event before its local note comes; and
    // the wait for the writer's note running out (LOCAL_WAIT_MS, 50 ms: on a loaded machine the
    // writer's answer can be read more than that after its NOTIFY), after which the hub reads the
    // log as for any note. A write with neither since the previous write began must fan out locally.
    let received = stream.events.length;
    let previous = hub.stats();
    let local = 0;
    let waitedOut = 0;
    for (let round = 0; round < 5; round++) {
      for (const [operation, status] of [
        [REQUEST_INFORMATION, 'REQUEST_INFORMATION'],
        [START_PROCESSING, 'IN_PROCESSING'],
      ] as const) {
        const before = hub.stats();
        await gqlOk(server, staff, operation, { id: ticketId });
        await stream.count(++received);
        expect(stream.events.at(-1)).toMatchObject({ kind: 'STATUS_CHANGED', ticket: { id: ticketId, status } });
        const after = hub.stats();
        const counted = { localFanOuts: after.localFanOuts - before.localFanOuts, ticketReads: after.ticketReads - before.ticketReads };
        if (after.polls === previous.polls && after.localWaitTimeouts === previous.localWaitTimeouts) {
          expect(counted).toEqual({ localFanOuts: 1, ticketReads: 0 });
        }
        local += counted.localFanOuts;
        if (after.localWaitTimeouts !== before.localWaitTimeouts) waitedOut++;
        previous = before;
      }
    }
    // A poll every 2 s can meet at most a few of the ten writes, and reads one back only if its read
    // runs in the moment after a commit; a write whose wait ran out was read back.
    expect(local + waitedOut).toBeGreaterThanOrEqual(8);
    stream.stop();
  });
  describe('the driver-level write transaction (db/write-transaction.ts)', () => {
    const contentOf = async (id: string) =>
      (await execute<Array<{ content: string }>>(server.app.database.orm.em.fork(), 'select content from tickets where id = ?', [id]))[0]!.content;
    const edit = (em: Parameters<typeof execute>[0], id: string, content: string) =>
      execute(em, 'update tickets set content = ? where id = ? returning id', [content, id]);

    it('rolls back when the work throws after its first statement, and returns its connection every time', async () => {
      const before = await contentOf(ticketId);
      // More failures than the pool has connections: each one's connection went back.
      for (let attempt = 0; attempt < 12; attempt++) {
        const em = server.app.database.orm.em.fork();
        await expect(
          writeTransaction(em, async () => {
            await edit(em, ticketId, `rolled back ${attempt}`);
            throw new Error('refused after the lock');
          }),
        ).rejects.toThrow('refused after the lock');
      }
      expect(await contentOf(ticketId)).toBe(before);
    });

    it('commits nothing when the statement sent with the commit fails, and the connection stays usable', async () => {
      const before = await contentOf(ticketId);
      for (let attempt = 0; attempt < 12; attempt++) {
        const em = server.app.database.orm.em.fork();
        await expect(
          writeTransaction(em, async (transaction) => {
            await edit(em, ticketId, `never committed ${attempt}`);
            transaction.commitWithNextStatement();
            await execute(em, 'select 1 / (select count(*) - count(*) from tickets) as boom');
          }),
        ).rejects.toThrow(/division by zero/);
      }
      expect(await contentOf(ticketId)).toBe(before);
    });

    it('a first message that also commits is one implicit transaction: a failing statement undoes the ones before it, and nothing stays open', async () => {
      const before = await contentOf(ticketId);
      // More attempts than the pool has connections: a connection left in a failed transaction
      // would refuse the next.
      for (let attempt = 0; attempt < 12; attempt++) {
        const em = server.app.database.orm.em.fork();
        server.queries.length = 0;
        await expect(
          writeTransaction(em, async (transaction) => {
            transaction.commitWithNextStatement();
            await transaction.executeAll([
              { sql: 'update tickets set content = ? where id = ? returning id', params: [`undone ${attempt}`, ticketId] },
              { sql: 'select 1 / (select count(*) - count(*) from tickets) as boom', params: [] },
            ]);
          }),
        ).rejects.toThrow(/division by zero/);
        // One message, no begin or commit in it, and no rollback after it (nothing was left open).
        expect(server.queries.map(expanded).filter((sql) => /content = |boom|rollback|begin|commit/.test(sql))).toEqual([
          expect.stringMatching(/^update tickets set content = .*;\s*select 1 \/ .* as boom$/),
        ]);
      }
      expect(await contentOf(ticketId)).toBe(before);
      const em = server.app.database.orm.em.fork();
      const [[row], [open]] = (await writeTransaction(em, async (transaction) => {
        transaction.commitWithNextStatement();
        return transaction.executeAll([
          { sql: 'update tickets set content = ? where id = ? returning content', params: ['in one implicit transaction', ticketId] },
          // Both statements see one transaction: the second reads the first's uncommitted write.
          { sql: 'select content, pg_current_xact_id_if_assigned() is not null as written from tickets where id = ?', params: [ticketId] },
        ]);
      })) as [[{ content: string }], [{ content: string; written: boolean }]];
      expect(row.content).toBe('in one implicit transaction');
      expect(open).toEqual({ content: 'in one implicit transaction', written: true });
      expect(await contentOf(ticketId)).toBe('in one implicit transaction');
      await writeTransaction(em, async () => {
        await edit(em, ticketId, before);
      });
    });

    it('commits with the marked statement, then refuses another one; a work that marks none is committed at its end', async () => {
      const before = await contentOf(ticketId);
      const em = server.app.database.orm.em.fork();
      await expect(
        writeTransaction(em, async (transaction) => {
          await execute(em, 'select 1 from tickets where id = ? for update', [ticketId]);
          transaction.commitWithNextStatement();
          await edit(em, ticketId, 'committed with its statement');
          await execute(em, 'select 1');
        }),
      ).rejects.toThrow('A statement after the write transaction committed');
      expect(await contentOf(ticketId)).toBe('committed with its statement');
      const other = server.app.database.orm.em.fork();
      await writeTransaction(other, async () => {
        await edit(other, ticketId, before);
      });
      expect(await contentOf(ticketId)).toBe(before);
    });
  });
});
