import type { EntityManager } from '@mikro-orm/core';
import { execute, type SqlStatement } from '../../src/db/sql';
import { numbered } from '../../src/db/write-transaction';
import { NEWEST_FIRST, TicketOrderField } from '../../src/modules/ticket/ticket-order';
import { positionOf, type TicketListQuery } from '../../src/modules/ticket/ticket.query';
import type { Viewer } from '../../src/modules/user/viewer';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { viewerOf } from '../support/finding-fixtures';

/**
 * A customer's or staff member's page of `tickets` (newest first, the default and the board's
 * ordering) reads that page, not the table: on 20,000 tickets, where the viewer's 300 are the
 * oldest, the scan of `tickets` under the page returns at most a page and removes nothing but the
 * staff member's hidden tickets (NEW), through (customer_id, created_at, id) or (staff_id,
 * created_at, id) (Migration20261209000000_viewer_page_indexes). Without them PostgreSQL walked
 * the whole ordering backwards to reach the viewer's tickets (19,700 rows for a page of 50).
 * The page after a cursor starts at the cursor the same way, planned for its values or
 * generically (a prepared statement's plan), and the pages are the viewer's tickets in order.
 */

const TICKETS = 20_000;
/** The viewer's tickets: the oldest of the table. */
const OWN = 300;
/** Of the staff member's, every tenth is NEW: assigned, still hidden from them. */
const HIDDEN_EVERY = 10;
const PAGE = 50;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

describe.each(DATABASES)('a viewer page on 20,000 tickets reads a page (%s)', (kind) => {
  let server: TestServer;
  let em: EntityManager;

  /**
   * Every scan of `tickets` in the statement's plan, as run (EXPLAIN ANALYZE): planned for its
   * values, or prepared and planned generically (what PostgreSQL may settle on for a prepared
   * statement after five executions, as the list's are: db/sql.ts).
   */
  const ticketScans = async ({ sql, params }: SqlStatement, plan: 'custom' | 'generic'): Promise<PlanNode[]> => {
    const explain = 'explain (analyze, format json)';
    const rows =
      plan === 'custom'
        ? await execute<Array<Record<string, unknown>>>(em, `${explain} ${sql}`, params)
        : await em.fork().transactional(async (tem) => {
            // All on the transaction's connection: the setting and the prepared statement are its session's.
            await execute(tem, 'set local plan_cache_mode = force_generic_plan');
            await execute(tem, `prepare viewer_page as ${numbered(sql)}`);
            const explained = await execute<Array<Record<string, unknown>>>(tem, `${explain} execute viewer_page(${params.map(() => '?').join(', ')})`, params);
            await execute(tem, 'deallocate viewer_page');
            return explained;
          });
    const value = Object.values(rows[0]!)[0];
    const explained = (typeof value === 'string' ? JSON.parse(value) : value) as Array<{ Plan: PlanNode }>;
    const scans: PlanNode[] = [];
    const walk = (node: PlanNode) => {
      if (node['Relation Name'] === 'tickets') scans.push(node);
      for (const child of node.Plans ?? []) walk(child);
    };
    walk(explained[0]!.Plan);
    return scans;
  };

  /**
   * The page's one scan of tickets, custom and generic plan alike: by `index`, rows read at most
   * the page (and one more) plus `removedAtMost` filtered out.
   */
  const expectPageRead = async (statement: SqlStatement, index: string, removedAtMost: number) => {
    for (const plan of ['custom', 'generic'] as const) {
      const scans = await ticketScans(statement, plan);
      expect(scans).toHaveLength(1);
      const [scan] = scans;
      const read = { plan, rows: scan!['Actual Rows'] * scan!['Actual Loops'], removedByFilter: scan!['Rows Removed by Filter'] ?? 0 };
      // A failure prints what the scan read.
      expect(read.rows <= PAGE + 2 && read.removedByFilter <= removedAtMost ? 'a page' : read).toBe('a page');
      expect({ plan, index: scan!['Index Name'] }).toEqual({ plan, index });
    }
  };

  const customerViewer = (): Viewer => viewerOf(server.users.customer);
  const staffViewer = (): Viewer => viewerOf(server.users.staff);

  /** The viewer's first page, then the page after its last ticket: both read a page, and they are the next tickets in order. */
  const expectPagesRead = async (viewer: Viewer, expected: readonly string[], index: string, removedAtMost: number) => {
    const reader = server.app.services.reader;
    const first: TicketListQuery = { order: NEWEST_FIRST, limit: PAGE };
    await expectPageRead(reader.listStatement(viewer, first), index, removedAtMost);
    const page = await reader.list(em, viewer, first);
    expect(page.tickets.map((ticket) => ticket.id)).toEqual(expected.slice(0, PAGE));
    expect(page.hasMore).toBe(true);

    const after = positionOf(page.tickets.at(-1)!, TicketOrderField.CREATED_AT);
    const second: TicketListQuery = { ...first, after };
    await expectPageRead(reader.listStatement(viewer, second), index, removedAtMost);
    const next = await reader.list(em, viewer, second);
    expect(next.tickets.map((ticket) => ticket.id)).toEqual(expected.slice(PAGE, 2 * PAGE));
  };

  /** The ids of the tickets matching `where`, newest first. */
  const idsNewestFirst = async (where: string, params: unknown[]): Promise<string[]> =>
    (await execute<Array<{ id: string }>>(em, `select id from tickets t where ${where} order by t.created_at desc, t.id desc`, params)).map((row) => row.id);

  beforeAll(async () => {
    server = await startServer(kind);
    em = server.app.database.orm.em.fork();
    const { customer, otherCustomer, staff, otherStaff } = server.users;
    // The first OWN rows (the oldest) are the viewer's: the customer's, assigned to the staff
    // member, every HIDDEN_EVERY-th still NEW; the rest are another customer's and staff member's.
    await execute(
      em,
      `insert into tickets (id, customer_id, staff_id, content, status, created_at, updated_at)
       select gen_random_uuid(), case when g <= ${OWN} then ? else ? end, case when g <= ${OWN} then ? else ? end,
         'ticket ' || g, case when g <= ${OWN} and g % ${HIDDEN_EVERY} = 0 then 1 else 2 end,
         timestamptz '2020-01-01' + g * interval '1 minute', timestamptz '2020-01-01' + g * interval '1 minute'
       from generate_series(1, ${TICKETS}) g`,
      [customer.id, otherCustomer.id, staff.id, otherStaff.id],
    );
    await execute(em, 'vacuum analyze tickets');
  }, 120_000);
  afterAll(() => server?.close());

  it("a customer's first and next page read a page each through (customer_id, created_at, id)", async () => {
    const expected = await idsNewestFirst('t.customer_id = ?', [server.users.customer.id]);
    expect(expected).toHaveLength(OWN);
    await expectPagesRead(customerViewer(), expected, 'tickets_customer_created_idx', 0);
  });

  it("a staff member's first and next page read a page each through (staff_id, created_at, id), past only their hidden tickets", async () => {
    const expected = await idsNewestFirst('t.staff_id = ? and t.status <> 1', [server.users.staff.id]);
    expect(expected).toHaveLength(OWN - OWN / HIDDEN_EVERY);
    // A page of 50 visible ones passes at most one hidden in ten of the rows before it.
    await expectPagesRead(staffViewer(), expected, 'tickets_staff_created_idx', Math.ceil((PAGE + 2) / (HIDDEN_EVERY - 1)));
  });
});
