import type { Database } from '../../src/db/database';
import { execute, executePrepared, executePreparedArrays, preparedReadName } from '../../src/db/sql';
import { DATABASES, openFreshDatabase } from '../support/server';
import { INCLUDE_ALL, TicketReader, type TicketListQuery } from '../../src/modules/ticket/ticket.query';
import { OrderDirection, TicketOrderField } from '../../src/modules/ticket/ticket-order';
import { Role } from '../../src/modules/user/role';
import type { Viewer } from '../../src/modules/user/viewer';

/**
 * The ticket reads run as prepared statements (src/db/sql.ts `executePrepared`): a named pg
 * statement on PostgreSQL, SQL PREPARE/EXECUTE with inlined literals on PGlite. They must answer
 * exactly what the plain `execute` answers, whatever the values hold, in and out of transactions.
 */
describe.each(DATABASES)('prepared reads (%s)', (kind) => {
  let database: Database;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    // One pooled session, so the statement lost below is the one the next read runs on.
    ({ database, close } = await openFreshDatabase(kind, { poolSize: 1 }));
  });
  afterAll(() => close?.());

  // Text parameters typed by the statement as PostgreSQL infers them: text, int, an array literal, a uuid.
  const sql = `select ?::text as text, ?::int + 1 as next, cardinality(?::smallint[]) as size, ?::uuid as id`;
  const awkward = `it's; -- not a comment \\ "quoted" 打印机 $1 ?`;
  const params = [awkward, 41, '{1,2,3}', '0193f0c2-7b1e-7000-8000-000000000001'];

  it('answers what execute answers, every time, with awkward text as a value', async () => {
    const em = database.orm.em.fork();
    const expected = await execute<unknown[]>(em, sql, params);
    for (let i = 0; i < 7; i++) {
      // Past five executions PostgreSQL may switch the statement to a generic plan.
      expect(await executePrepared<unknown[]>(em, sql, params)).toEqual(expected);
    }
    expect(expected).toEqual([{ text: awkward, next: 42, size: 3, id: params[3] }]);
  });

  it('works inside a transaction and after the session lost the statement', async () => {
    await database.orm.em.fork().transactional(async (tem) => {
      expect(await executePrepared<Array<{ next: number }>>(tem, sql, params)).toMatchObject([{ next: 42 }]);
    });
    const em = database.orm.em.fork();
    // The session forgets its prepared statements; the next read prepares it again.
    await execute(em, 'deallocate all');
    expect(await executePrepared<Array<{ next: number }>>(em, sql, params)).toMatchObject([{ next: 42 }]);
  });

  // The list page's read asks for rows as arrays (rowMode 'array' where prepared, converted where not).
  const columns = ['text', 'next', 'size', 'id'];
  const asArray = [[awkward, 42, 3, params[3]]];

  it('answers rows as arrays in column order, prepared, in a transaction and after the statement was lost', async () => {
    const em = database.orm.em.fork();
    // A text of its own, so its first execution prepares it with arrays asked for.
    const arraysSql = `${sql} -- arrays`;
    for (let i = 0; i < 7; i++) expect(await executePreparedArrays(em, arraysSql, params, columns)).toEqual(asArray);
    // The same prepared statement answers objects to executePrepared: the row mode is per execution.
    expect(await executePrepared<unknown[]>(em, arraysSql, params)).toEqual([{ text: awkward, next: 42, size: 3, id: params[3] }]);
    await database.orm.em.fork().transactional(async (tem) => {
      expect(await executePreparedArrays(tem, arraysSql, params, columns)).toEqual(asArray);
    });
    await execute(em, 'deallocate all');
    expect(await executePreparedArrays(em, arraysSql, params, columns)).toEqual(asArray);
  });

  it('refuses a bad value with the database error, as execute does', async () => {
    const em = database.orm.em.fork();
    await expect(executePrepared(em, sql, [awkward, 1, '{1}', 'not-a-uuid'])).rejects.toThrow(/uuid/);
    expect(await executePrepared<Array<{ next: number }>>(em, sql, params)).toMatchObject([{ next: 42 }]);
  });

  it("plans a list page's statement once: its page size is in the text, so PostgreSQL keeps the generic plan", async () => {
    const em = database.orm.em.fork();
    // A table of some size, analysed: PostgreSQL's choice between the generic and the custom plan
    // compares their estimated costs, and over an empty table the two look alike.
    const [first, second] = await execute<Array<{ id: number }>>(
      em,
      `insert into users (username, password_hash, roles) values ('plans-dispatcher', 'x', '{SCHEDULER}'), ('plans-customer', 'x', '{CUSTOMER}') returning id`,
    );
    await execute(
      em,
      `insert into tickets (id, customer_id, content, status, created_at, updated_at)
       select gen_random_uuid(), ?, 'ticket ' || n, 1 + n % 8, now() - n * interval '1 minute', now() from generate_series(1, 2000) n`,
      [second!.id],
    );
    await execute(
      em,
      `insert into replies (id, ticket_id, author_id, content) select gen_random_uuid(), t.id, t.customer_id, 'reply ' || n from tickets t, generate_series(1, 5) n`,
    );
    await execute(
      em,
      `insert into ticket_history (id, ticket_id, actor_id, status) select gen_random_uuid(), t.id, t.customer_id, 1 + n from tickets t, generate_series(1, 5) n`,
    );
    await execute(em, 'analyze tickets, replies, ticket_history, users');
    const reader = new TicketReader();
    const page: TicketListQuery = { limit: 50, order: { field: TicketOrderField.CREATED_AT, direction: OrderDirection.DESC }, include: INCLUDE_ALL };
    const viewers: Viewer[] = [
      { id: first!.id, username: 'plans-dispatcher', roles: [Role.SCHEDULER], isAdmin: false },
      { id: second!.id, username: 'plans-customer', roles: [Role.CUSTOMER], isAdmin: false },
    ];
    for (const viewer of viewers) {
      const { sql, params } = reader.listStatement(viewer, page);
      expect(sql).toMatch(/ limit 51\b/);
      for (let i = 0; i < 8; i++) await reader.list(em, viewer, page);
      // One pooled session: the statement this suite's reads prepared there, and how PostgreSQL ran it.
      const [plans] = await execute<Array<{ generic: number; custom: number }>>(
        em,
        'select generic_plans::int as generic, custom_plans::int as custom from pg_prepared_statements where name = ?',
        [preparedReadName(sql)],
      );
      // With `limit $n` every execution was a custom plan (the statement planned again each time).
      expect({ viewer: viewer.username, custom: plans!.custom <= 5, generic: plans!.generic >= 3 }).toEqual({
        viewer: viewer.username,
        custom: true,
        generic: true,
      });
      // The scheduler's page has no parameter left; the customer's, the customer's id.
      expect(params).toEqual(viewer.roles.includes(Role.SCHEDULER) ? [] : [viewer.id]);
    }
  });
});
