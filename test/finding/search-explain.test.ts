import type { EntityManager } from '@mikro-orm/core';
import { OrderDirection, TicketOrderField } from '../../src/modules/ticket/ticket-order';
import type { SqlStatement } from '../../src/db/sql';
import { parseSearch } from '../../src/modules/ticket/ticket-search';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { viewerOf } from '../support/finding-fixtures';

/**
 * Search is index-backed on both databases: on 20,000 tickets (and 20,000 replies), the plans of
 * the list page, its totalCount and ticketStats with a search use the trigram indexes of both
 * tables (the bigram indexes for a two-character Chinese term) and never scan either table
 * sequentially, for an English and a Chinese term.
 */

const TICKETS = 20_000;

describe.each(DATABASES)('search plans on 20,000 tickets (%s)', (kind) => {
  let server: TestServer;
  let em: EntityManager;

  const plan = async ({ sql, params }: SqlStatement): Promise<string> => {
    const rows = await em.getConnection().execute<Array<Record<string, string>>>(`explain ${sql}`, [...params], 'all');
    return rows.map((row: Record<string, string>) => Object.values(row)[0]).join('\n');
  };

  /** The page, totalCount and ticketStats of a search for `term`, for each viewer, use `index` of both tables and scan neither. */
  const expectIndexed = async (term: string, index: 'trgm' | 'bigram') => {
    const reader = server.app.services.reader;
    for (const user of [server.users.scheduler, server.users.customer, server.users.staff]) {
      const viewer = viewerOf(user);
      const filter = { search: parseSearch(term) };
      const order = { field: TicketOrderField.CREATED_AT, direction: OrderDirection.DESC };
      for (const statement of [
        reader.listStatement(viewer, { ...filter, order, limit: 20 }),
        reader.countStatement(viewer, filter),
        reader.statsStatement(viewer, filter, { byStaff: true }),
      ]) {
        const text = await plan(statement);
        expect({ user: user.username, text }).toEqual({ user: user.username, text: expect.stringContaining(`tickets_content_${index}_idx`) });
        expect(text).toContain(`replies_content_${index}_idx`);
        expect(text).not.toMatch(/Seq Scan on (tickets|replies)\b/);
      }
    }
  };

  beforeAll(async () => {
    server = await startServer(kind);
    em = server.app.database.orm.em.fork();
    const { customer, otherCustomer, staff } = server.users;
    const words = ['network', 'monitor', 'keyboard', 'email', 'login', 'mouse', '网络', '显示器', '键盘', '邮件'];
    // Ten tickets in 20,000 are about the printer, in English or Chinese, in content or a reply.
    await em.getConnection().execute(
      `insert into tickets (id, customer_id, staff_id, content, status, created_at, updated_at)
       select gen_random_uuid(), case when g % 2 = 0 then ? else ? end, case when g % 3 = 0 then ? else null end,
         case when g % 4000 = 0 then 'The printer is on fire ' || g when g % 4000 = 1 then '我的打印机坏了 ' || g
              else (array[${words.map((w) => `'${w}'`).join(',')}])[1 + g % 10] || ' problem ' || md5(g::text) end,
         case when g % 3 = 0 then 2 else 1 end, now() - g * interval '1 second', now() - g * interval '1 second'
       from generate_series(1, ${TICKETS}) g`,
      [customer.id, otherCustomer.id, staff.id],
    );
    await em.getConnection().execute(
      `insert into replies (id, ticket_id, author_id, content, created_at)
       select gen_random_uuid(), t.id, t.customer_id,
         case when row_number() over (order by t.id) % 5000 = 7 then 'the printer again, 打印机又坏了' else 'reply ' || md5(t.id::text) end,
         t.created_at
       from tickets t`,
    );
    await em.getConnection().execute('vacuum analyze tickets');
    await em.getConnection().execute('vacuum analyze replies');
  }, 120_000);
  afterAll(() => server?.close());

  it.each(['printer', '打印机'])('"%s": the page, totalCount and ticketStats use both trigram indexes and no sequential scan of tickets or replies', (term) =>
    expectIndexed(term, 'trgm'),
  );

  it('finds exactly the matching tickets among 20,000', async () => {
    const reader = server.app.services.reader;
    const viewer = viewerOf(server.users.scheduler);
    const order = { field: TicketOrderField.CREATED_AT, direction: OrderDirection.DESC };
    const english = await reader.list(em, viewer, { search: parseSearch('printer'), order, limit: 100 });
    const chinese = await reader.list(em, viewer, { search: parseSearch('打印机'), order, limit: 100 });
    expect(english.tickets.length).toBeGreaterThanOrEqual(5);
    expect(chinese.tickets.length).toBeGreaterThanOrEqual(5);
    expect(english.tickets.length + chinese.tickets.length).toBeLessThan(40);
  });

  it('"打印" (two characters, a Chinese word): the page, totalCount and ticketStats use both bigram indexes and no sequential scan', async () => {
    await expectIndexed('打印', 'bigram');
    const reader = server.app.services.reader;
    const viewer = viewerOf(server.users.scheduler);
    const order = { field: TicketOrderField.CREATED_AT, direction: OrderDirection.DESC };
    const found = await reader.list(em, viewer, { search: parseSearch('打印'), order, limit: 100 });
    expect(found.tickets.length).toBe((await reader.list(em, viewer, { search: parseSearch('打印机'), order, limit: 100 })).tickets.length);
  });

  it('prints the plan of a two-character ASCII term (docs: no index serves it)', async () => {
    const reader = server.app.services.reader;
    const text = await plan(reader.countStatement(viewerOf(server.users.scheduler), { search: parseSearch('fi') }));
    process.stdout.write(`\n[${kind}] plan of a two-character ASCII search (count):\n${text}\n`);
    // No index condition narrows it: ILIKE filters every row (an index may still be walked whole,
    // PGlite's planner reads the partial index of replies as the list of those not deleted).
    expect(text).toMatch(/Filter: .*content ~~\* '%fi%'/);
    expect(text).not.toMatch(/Index Cond: .*(search_bigrams|content ~~\*)/);
  });
});
