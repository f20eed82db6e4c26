import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { openDatabase, type Database } from '../../src/db/database';
import type { EntityManager } from '@mikro-orm/core';
import { execute } from '../../src/db/sql';
import { formatNote, type EventBus, type EventNote } from '../../src/realtime/event-bus';
import { InProcessEventBus } from '../../src/realtime/in-process.event-bus';
import { PostgresEventBus } from '../../src/realtime/postgres.event-bus';
import { RedisEventBus } from '../../src/realtime/redis.event-bus';
import { createPostgresDatabase } from '../support/server';

/**
 * The three buses, each against the real thing: notes reach every process (this one included),
 * PostgreSQL's only on commit, and a lost connection comes back and says so (a note-less wake).
 */

const TICKET = '01900000-0000-7000-8000-000000000001';
const quiet = { warn: () => undefined, info: () => undefined };

/** Collects what a bus hands its listener. */
function listenTo(bus: EventBus): { notes: Array<EventNote | undefined>; next(predicate?: (note?: EventNote) => boolean): Promise<EventNote | undefined> } {
  const notes: Array<EventNote | undefined> = [];
  const waiters: Array<() => void> = [];
  bus.listen((note) => {
    notes.push(note);
    for (const wake of waiters.splice(0)) wake();
  });
  let read = 0;
  return {
    notes,
    async next(predicate = () => true) {
      const deadline = Date.now() + 5_000;
      for (;;) {
        while (read < notes.length) {
          const note = notes[read++];
          if (predicate(note)) return note;
        }
        if (Date.now() > deadline) throw new Error(`no note arrived; got ${JSON.stringify(notes)}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('InProcessEventBus', () => {
  it('wakes its own listener after the commit and crosses no process boundary', async () => {
    const bus = new InProcessEventBus();
    const received = listenTo(bus);
    bus.announceCommitted({ seq: 7, ticketId: TICKET });
    expect(received.notes).toEqual([{ seq: 7, ticketId: TICKET }]);
    await bus.close();
  });
});

(process.env.TEST_DATABASE_URL ? describe : describe.skip)('PostgresEventBus (LISTEN/NOTIFY)', () => {
  let url: string;
  let drop: () => Promise<void>;
  let database: Database;
  let writer: PostgresEventBus;
  let reader: PostgresEventBus;
  beforeAll(async () => {
    ({ url, drop } = await createPostgresDatabase());
    database = await openDatabase({ databaseUrl: url, poolSize: 2 });
    writer = new PostgresEventBus(url, quiet);
    reader = new PostgresEventBus(url, quiet);
    await Promise.all([writer.ready(), reader.ready()]);
  });
  /** Queues a note in the transaction on the writer's channel, as the event log's statement does. */
  const notify = (tem: EntityManager, note: EventNote) => execute(tem, 'select pg_notify(?, ?)', [writer.notifyChannel, formatNote(note)]);
  afterAll(async () => {
    await writer?.close();
    await reader?.close();
    await database?.close();
    await drop?.();
  });

  it('delivers a note to another process only when the transaction commits, and never on rollback', async () => {
    const received = listenTo(reader);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const committed = database.orm.em.fork().transactional(async (tem) => {
      await notify(tem, { seq: 1, ticketId: TICKET });
      await held;
    });
    await sleep(300);
    expect(received.notes).toEqual([]);
    release();
    await committed;
    expect(await received.next()).toEqual({ seq: 1, ticketId: TICKET });

    await expect(
      database.orm.em.fork().transactional(async (tem) => {
        await notify(tem, { seq: 2, ticketId: TICKET });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await database.orm.em.fork().transactional((tem) => notify(tem, { seq: 3, ticketId: TICKET }));
    expect(await received.next()).toEqual({ seq: 3, ticketId: TICKET });
    expect(received.notes.map((note) => note?.seq)).toEqual([1, 3]);
  });

  it('reconnects its listener after losing it, wakes once without a note, and receives again', async () => {
    const received = listenTo(reader);
    const admin = new Client({ connectionString: url });
    await admin.connect();
    try {
      const { rowCount } = await admin.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = 'helpdesk-listener'",
      );
      expect(rowCount).toBe(2);
    } finally {
      await admin.end();
    }
    // Both listeners (writer's and reader's) come back; the reader says "read the log".
    expect(await received.next()).toBeUndefined();
    await sleep(100);
    await database.orm.em.fork().transactional((tem) => notify(tem, { seq: 4, ticketId: TICKET }));
    expect(await received.next((note) => note !== undefined)).toEqual({ seq: 4, ticketId: TICKET });
  });
});

(process.env.TEST_REDIS_URL ? describe : describe.skip)('RedisEventBus (pub/sub)', () => {
  const redisUrl = process.env.TEST_REDIS_URL!;
  const channel = `helpdesk:test:${randomBytes(6).toString('hex')}`;
  const name = `helpdesk-test-${randomBytes(4).toString('hex')}`;
  let a: RedisEventBus;
  let b: RedisEventBus;
  beforeAll(async () => {
    a = new RedisEventBus(redisUrl, channel, quiet, `${name}-a`);
    b = new RedisEventBus(redisUrl, channel, quiet, `${name}-b`);
    await Promise.all([a.ready(), b.ready()]);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('delivers a committed note to its own process at once and to the others through Redis', async () => {
    const ownNotes = listenTo(a);
    const otherNotes = listenTo(b);
    a.announceCommitted({ seq: 11, ticketId: TICKET });
    expect(ownNotes.notes[0]).toEqual({ seq: 11, ticketId: TICKET });
    expect(await otherNotes.next()).toEqual({ seq: 11, ticketId: TICKET });
  });

  it('does not hear other channels (other databases sharing the Redis)', async () => {
    const otherNotes = listenTo(b);
    const stranger = new RedisEventBus(redisUrl, `${channel}:other`, quiet);
    await stranger.ready();
    stranger.announceCommitted({ seq: 99, ticketId: TICKET });
    a.announceCommitted({ seq: 12, ticketId: TICKET });
    expect(await otherNotes.next()).toEqual({ seq: 12, ticketId: TICKET });
    expect(otherNotes.notes.map((note) => note?.seq)).toEqual([12]);
    await stranger.close();
  });

  it('comes back after its subscriber connection is killed, wakes once without a note, and receives again', async () => {
    const otherNotes = listenTo(b);
    const admin = new Redis(redisUrl);
    try {
      const clients = (await admin.client('LIST')) as string;
      const ids = clients
        .split('\n')
        .filter((line) => line.includes(`name=${name}-b`) && / sub=[1-9][0-9]* /.test(line))
        .map((line) => /id=(\d+)/.exec(line)![1]);
      expect(ids).toHaveLength(1);
      await admin.client('KILL', 'ID', ids[0]);
    } finally {
      admin.disconnect();
    }
    expect(await otherNotes.next()).toBeUndefined();
    await sleep(100);
    a.announceCommitted({ seq: 13, ticketId: TICKET });
    expect(await otherNotes.next((note) => note !== undefined)).toEqual({ seq: 13, ticketId: TICKET });
  });

  it('refuses to start when Redis cannot be reached', async () => {
    const unreachable = new RedisEventBus('redis://127.0.0.1:1', `${channel}:nowhere`, quiet);
    await expect(unreachable.ready()).rejects.toThrow();
    await unreachable.close();
  }, 20_000);
});
