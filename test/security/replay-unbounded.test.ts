import { encodeEventCursor } from '../../src/modules/event/event-cursor';
import { connect, EventStream, settled } from '../support/live-client';
import { createTicketAs } from '../support/http';
import { serverWithClients } from '../support/live-suite';
import { DATABASES, type TestServer } from '../support/server';

/**
 * Issue 9, "Buffers that grow with someone else's traffic": a replay without `ticketId` read the
 * whole log after the cursor, page after page, read every page's tickets and only then dropped
 * what the viewer may not see, so a customer resuming from an old (or made-up) cursor cost work
 * in proportion to everyone's traffic. The replay now reads the log through the viewer's
 * visibility scope in SQL: its cost follows what the viewer receives.
 *
 * Measured with the hub's own counters: ticket reads (one per ticket per replay page) and log
 * reads, for a customer with 2 tickets in a log of other customers' 300 tickets.
 */
const OTHERS = 300;

describe.each(DATABASES)('a replay without ticketId (%s)', (kind) => {
  let server: TestServer;
  const clients = serverWithClients(kind, {}, (started) => (server = started));

  it("reads the viewer's events, not the whole log after the cursor", async () => {
    const { customer, otherCustomer, scheduler } = server.users;
    // Event 1, the made-up cursor's: replays start after it.
    await createTicketAs(server, otherCustomer, 'the first event of the log');
    const own = [await createTicketAs(server, customer, 'mine, first')];
    // Everyone else's traffic: other customers' tickets, in one statement (the log is the state).
    const em = server.app.database.orm.em.fork();
    await em.getConnection().execute(
      `with made as (
         insert into tickets (id, customer_id, content, image_ids, status, created_at, updated_at)
         select gen_random_uuid(), ?, 'not yours', '{}', 1, now(), now() from generate_series(1, ${OTHERS})
         returning id)
       insert into ticket_events (kind, ticket_id, actor_id, at) select 'CREATED', id, ?, now() from made`,
      [otherCustomer.id, otherCustomer.id],
    );
    own.push(await createTicketAs(server, customer, 'mine, second'));
    await settled(server);

    const before = server.app.live.hub!.stats();
    server.queries.length = 0;
    const client = connect(server, customer);
    clients.push(client);
    const stream = new EventStream(client.client, { after: encodeEventCursor(1) });
    await stream.count(2);
    await settled(server);
    const after = server.app.live.hub!.stats();

    expect(stream.events.map((event) => event.ticket.id)).toEqual(own);
    expect(stream.errors).toEqual([]);
    // Tickets read for the replay: the customer's own 2, not the 302 of the log.
    expect(after.ticketReads - before.ticketReads).toBeLessThanOrEqual(own.length);
    // One page of the log, read through the customer's visibility, was enough (2 events), not
    // ceil(302 / 200) pages of everyone's.
    expect(server.queries.filter((sql) => /from ticket_events e/.test(sql) && /e\.seq > /.test(sql) && /customer_id = /.test(sql))).toHaveLength(1);

    // A scheduler sees everything: the same cursor replays all of it, page by page.
    const all = connect(server, scheduler);
    clients.push(all);
    const everything = new EventStream(all.client, { after: encodeEventCursor(1) });
    await everything.count(OTHERS + 2, 20_000);
    expect(everything.events).toHaveLength(OTHERS + 2);
    expect(everything.events.filter((event) => own.includes(event.ticket.id))).toHaveLength(2);
  });
});
