import { rmSync } from 'node:fs';
import { decodeEventCursor } from '../../src/modules/event/event-cursor';
import { EventLog } from '../../src/modules/event/event-log';
import { TicketEventKind } from '../../src/modules/event/ticket-change';
import { gqlOk } from '../support/http';
import { serverWithClients } from '../support/live-suite';
import { DATABASES, startServer, type TestServer, type TestUser } from '../support/server';
import { connect, EventStream, settled, subscribers, type LiveClient } from '../support/live-client';
import { scratchDir } from '../support/scratch';

/** No event lost, none repeated: resumes, the replay/live seam, restarts, commit order. */

const seqOf = (cursor: string): number => decodeEventCursor(cursor, 'cursor');

async function createTicket(server: TestServer, user: TestUser, content: string): Promise<string> {
  return (await gqlOk(server, user, 'mutation($content: String!) { createTicket(input: { content: $content }) { id } }', { content })).createTicket.id;
}

async function reply(server: TestServer, user: TestUser, ticketId: string, content: string): Promise<void> {
  await gqlOk(server, user, 'mutation($id: ID!, $content: String!) { addReply(ticketId: $id, content: $content) { id } }', { id: ticketId, content });
}

/** Every seq in the log after `after`, straight from the table. */
async function logSeqs(server: TestServer, after: number): Promise<number[]> {
  const rows = await server.app.database.orm.em
    .fork()
    .getConnection()
    .execute<Array<{ seq: string | number }>>('select seq from ticket_events where seq > ? order by seq', [after], 'all');
  return rows.map((row: { seq: string | number }) => Number(row.seq));
}

describe.each(DATABASES)('resuming ticket events (%s)', (kind) => {
  let server: TestServer;
  const clients = serverWithClients(kind, {}, (started) => (server = started));

  const open = (user: TestUser, variables: { ticketId?: string; after?: string } = {}) => {
    const client = connect(server, user);
    clients.push(client);
    return { client, stream: new EventStream(client.client, variables) };
  };

  it('replays what was missed after a disconnect, then continues live, each event once', async () => {
    const { customer, scheduler } = server.users;
    const first = open(scheduler);
    await subscribers(server, 1);
    const id = await createTicket(server, customer, 'resume me');
    await reply(server, customer, id, 'one');
    await first.stream.count(2);
    const cursor = first.stream.events[1].cursor;
    await first.client.dispose();
    await subscribers(server, 0);

    // Missed while away.
    await reply(server, customer, id, 'two');
    await reply(server, customer, id, 'three');
    const other = await createTicket(server, customer, 'another');

    const second = open(scheduler, { after: cursor });
    await second.stream.count(3);
    await reply(server, customer, other, 'four (live)');
    await second.stream.count(4);
    await settled(server);
    expect(second.stream.events.map((event) => [event.kind, event.reply?.content ?? event.ticket.id])).toEqual([
      ['REPLY_ADDED', 'two'],
      ['REPLY_ADDED', 'three'],
      ['CREATED', other],
      ['REPLY_ADDED', 'four (live)'],
    ]);
    const seqs = second.stream.events.map((event) => seqOf(event.cursor));
    expect(seqs).toEqual(await logSeqs(server, seqOf(cursor)));

    // A single-ticket resume replays only that ticket.
    const single = open(customer, { ticketId: id, after: cursor });
    await single.stream.count(2);
    await settled(server);
    expect(single.stream.events.map((event) => event.reply?.content)).toEqual(['two', 'three']);
    second.stream.stop();
    single.stream.stop();
    await subscribers(server, 0);
  });

  it('has no gap and no duplicate at the seam between replay and live, under concurrent writers', async () => {
    const { customer, scheduler } = server.users;
    const tickets = await Promise.all([1, 2, 3, 4].map((n) => createTicket(server, customer, `seam ${n}`)));
    const start = (await logSeqs(server, 0)).at(-1)!;
    // Four writers keep committing while the subscriber resumes from `start`.
    let writing = true;
    const writers = tickets.map(async (ticketId, n) => {
      let written = 0;
      while (writing || written < 5) {
        await reply(server, customer, ticketId, `writer ${n} reply ${written++}`);
      }
      return written;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { stream } = open(scheduler, { after: Buffer.from(`event:${start}`).toString('base64url') });
    await subscribers(server, 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    writing = false;
    const written = (await Promise.all(writers)).reduce((sum, count) => sum + count, 0);
    const expected = await logSeqs(server, start);
    expect(expected).toHaveLength(written);
    await stream.count(expected.length);
    await settled(server);
    // Exactly the log after `start`, in order: nothing missed, nothing twice.
    expect(stream.events.map((event) => seqOf(event.cursor))).toEqual(expected);
    stream.stop();
    await subscribers(server, 0);
  });

  it('reads everything after the last seen seq whatever note wakes it (a missed note loses nothing)', async () => {
    const { customer, scheduler } = server.users;
    const id = await createTicket(server, customer, 'quiet writes');
    const { stream } = open(scheduler);
    await subscribers(server, 1);
    // Two events committed without any note (straight into the log, bypassing the bus) ...
    const log = new EventLog();
    const at = new Date();
    const append = () =>
      server.app.database.orm.em.fork().transactional((tem) => log.append(tem, { kind: TicketEventKind.EDITED, ticketId: id, actorId: customer.id, at }));
    const quiet = await append();
    const noted = await append();
    // ... then a note for the second only: both arrive, in order. (On PostgreSQL the hub's
    // periodic poll may find them first; either way none is lost or repeated.)
    server.app.live.bus.announceCommitted({ seq: noted, ticketId: id });
    await stream.count(2);
    expect(stream.events.map((event) => seqOf(event.cursor))).toEqual([quiet, noted]);
    // A repeated or stale note reads nothing new.
    server.app.live.bus.announceCommitted({ seq: quiet, ticketId: id });
    await settled(server);
    expect(stream.events).toHaveLength(2);
    stream.stop();
    await subscribers(server, 0);
  });

  it('makes seq order commit order: a writer draws its seq only after the previous writer committed', async () => {
    const { customer } = server.users;
    const id = await createTicket(server, customer, 'ordering');
    const log = new EventLog();
    const orm = server.app.database.orm;
    const change = { kind: TicketEventKind.EDITED, ticketId: id, actorId: customer.id, at: new Date() };
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let firstSeq!: (seq: number) => void;
    const firstAppended = new Promise<number>((resolve) => (firstSeq = resolve));
    const first = orm.em.fork().transactional(async (tem) => {
      const seq = await log.append(tem, change);
      firstSeq(seq);
      await held;
      return seq;
    });
    const a = await firstAppended;
    let secondAppended = false;
    const second = orm.em.fork().transactional(async (tem) => {
      const seq = await log.append(tem, change);
      secondAppended = true;
      return seq;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The first transaction is still open: the second waits for it rather than overtake it.
    expect(secondAppended).toBe(false);
    release();
    const [seqA, seqB] = await Promise.all([first, second]);
    expect(seqA).toBe(a);
    expect(seqB).toBeGreaterThan(seqA);
  });
});

describe.each(DATABASES)('resuming across a server restart (%s)', (kind) => {
  it('a client resumes from its cursor on a new server process over the same database', async () => {
    const dataDir = kind === 'embedded' ? scratchDir('helpdesk-restart-') : undefined;
    const first = await startServer(kind, { config: dataDir ? { dataDir } : {} });
    let second: TestServer | undefined;
    let live: LiveClient | undefined;
    try {
      const { customer, scheduler } = first.users;
      live = connect(first, scheduler);
      const before = new EventStream(live.client);
      await subscribers(first, 1);
      const id = await createTicket(first, customer, 'survives restarts');
      await before.count(1);
      const cursor = before.events[0].cursor;
      await reply(first, customer, id, 'before the restart');
      await first.app.close();
      expect((await live.closed).code).toBe(1001);
      await live.dispose();

      // The same database, the same key: a new process.
      second = await startServer(kind, {
        bare: true,
        config: { databaseUrl: first.app.config.databaseUrl, dataDir, credentialKey: first.key },
      });
      await reply(second, customer, id, 'after the restart');
      live = connect(second, scheduler);
      const after = new EventStream(live.client, { after: cursor });
      await after.count(2);
      await reply(second, customer, id, 'live again');
      await after.count(3);
      await settled(second);
      expect(after.events.map((event) => event.reply?.content)).toEqual(['before the restart', 'after the restart', 'live again']);
      expect(after.events.map((event) => seqOf(event.cursor))).toEqual(await logSeqs(second, seqOf(cursor)));
    } finally {
      await live?.dispose();
      await second?.close();
      await first.close();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
