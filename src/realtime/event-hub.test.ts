import type { EntityManager } from '@mikro-orm/core';
import type { EventLog, LoggedEvent } from '../modules/event/event-log';
import { type ChangeWrites, type TicketChange, TicketEventKind } from '../modules/event/ticket-change';
import type { TicketEventPayload } from '../modules/event/ticket-event.feed';
import type { TicketReader, TicketView } from '../modules/ticket/ticket.query';
import { TicketStatus } from '../modules/ticket/ticket-status';
import { Role } from '../modules/user/role';
import type { Viewer } from '../modules/user/viewer';
import { BaseEventBus, type EventNote } from './event-bus';
import { LOCAL_WAIT_MS, TicketEventHub } from './event-hub';
import { EventLogSink } from './event-log.sink';
import { LocalWrites } from './local-writes';
import type { LiveSubscription } from './live-subscription';

const CUSTOMER = { id: 1, username: 'customer', roles: [Role.CUSTOMER] };
const STAFF = { id: 2, username: 'staff', roles: [Role.STAFF] };
const customer: Viewer = { ...CUSTOMER, isAdmin: false };
const staff: Viewer = { ...STAFF, isAdmin: false };
const TICKET = '01900000-0000-7000-8000-000000000001';
const WRITES: ChangeWrites = { ctes: '', params: [], gate: 'x' };

const view = (status: TicketStatus, staffId: number | null): TicketView => ({
  id: TICKET,
  status,
  content: 'x',
  imageIds: [],
  customerId: CUSTOMER.id,
  staffId,
  customer: CUSTOMER,
  scheduler: null,
  staff: staffId === null ? null : STAFF,
  createdAt: 0,
  updatedAt: 0,
});

/** PostgreSQL's bus as the hub sees it: `wire` is a NOTIFY arriving on the listener's connection. */
class TestBus extends BaseEventBus {
  readonly kind = 'postgres' as const;
  readonly notifyChannel = 'test';
  wire(note?: EventNote): void {
    this.deliver(note);
  }
}

/**
 * A hub over an in-memory log and ticket, with this process's sink. `commit` is what PostgreSQL
 * does: the event is in the log, and the NOTIFY may reach the listener before the writer's answer.
 */
function setUp() {
  const events: LoggedEvent[] = [];
  let current = view(TicketStatus.NEW, null);
  const reads = { log: 0, ticket: 0 };
  let slow: Promise<void> | undefined;
  const log = {
    lastSeq: async () => events.at(-1)?.seq ?? 0,
    readAfter: async (_em: EntityManager, after: number, options: { limit: number }) => {
      reads.log++;
      // The read's snapshot is taken now; its answer may take a while (`slowReads`).
      const found = events.filter((event) => event.seq > after).slice(0, options.limit);
      if (slow) await slow;
      return found;
    },
    // The writer's statement; `write` below plays what PostgreSQL does with it.
    appendWithStatement: (change: TicketChange) => ({ sql: 'append', params: [change] }),
    appendedSeq: (rows: readonly unknown[]) => (rows[0] as { seq: number } | undefined)?.seq,
  } as unknown as EventLog;
  const reader = {
    findById: async () => {
      reads.ticket++;
      return current;
    },
  } as unknown as TicketReader;
  const bus = new TestBus();
  const localWrites = new LocalWrites();
  const sink = new EventLogSink(log, bus, undefined, localWrites);
  const logger = { warn: () => undefined, info: () => undefined, error: () => undefined };
  const hub = new TicketEventHub({ fork: () => ({}) as EntityManager, log, reader, bus, localWrites, logger });

  return {
    hub,
    bus,
    reads,
    events,
    localWrites,
    sink,
    /** Reads of the log answer only when the returned function is called. */
    slowReads(): () => void {
      let release = () => undefined as void;
      slow = new Promise<void>((resolve) => (release = resolve));
      return () => {
        slow = undefined;
        release();
      };
    },
    async start() {
      await hub.start();
      await flush();
    },
    /** The ticket as it is now (what a read of the log would see). */
    setCurrent(ticket: TicketView) {
      current = ticket;
    },
    /** One write of this process: records (its NOTIFY first when asked), then publishes its local note. */
    async write(ticket: TicketView, options: { notifyFirst?: boolean; publish?: boolean } = {}) {
      const change: TicketChange = { kind: TicketEventKind.CREATED, ticketId: TICKET, actorId: CUSTOMER.id, at: new Date(0) };
      const record = sink.recordWith(change, WRITES);
      await Promise.resolve();
      // PostgreSQL runs the statement and commits: the event is in the log, and the listener may
      // hear of it before the answer reaches the writer.
      const seq = (events.at(-1)?.seq ?? 0) + 1;
      events.push({ seq, kind: change.kind, ticketId: change.ticketId, actor: CUSTOMER, reply: null, at: 0 });
      if (options.notifyFirst) bus.wire({ seq, ticketId: change.ticketId });
      record.settle([{ seq }]);
      change.outcome = { ticket, actor: CUSTOMER, reply: null };
      if (options.publish ?? true) sink.committed(change);
      return change;
    },
    /** An event another process committed, and its NOTIFY. */
    otherProcess(notify = true) {
      const seq = (events.at(-1)?.seq ?? 0) + 1;
      events.push({ seq, kind: TicketEventKind.EDITED, ticketId: TICKET, actor: STAFF, reply: null, at: 0 });
      if (notify) bus.wire({ seq, ticketId: TICKET });
      return seq;
    },
  };
}

/** Lets pending promise chains (reads, fan-out) run; timers do not move. */
const flush = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

const take = async (subscription: LiveSubscription): Promise<TicketEventPayload[]> => {
  const out: TicketEventPayload[] = [];
  while (subscription.backlog > 0) out.push((await subscription.next()).value as TicketEventPayload);
  return out;
};

describe('TicketEventHub: a process\u2019s own writes', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('its own NOTIFY before its local note: one local fan-out, no read of the log, visibility as the write left the ticket', async () => {
    const t = setUp();
    await t.start();
    const readsAtStart = { ...t.reads };
    const mine = t.hub.subscribe(customer, { include: {} });
    const staffs = t.hub.subscribe(staff, { include: {} });
    // By the time anything reads the ticket it is assigned to the staff member (a later write).
    t.setCurrent(view(TicketStatus.ASSIGNED, STAFF.id));

    await t.write(view(TicketStatus.NEW, null), { notifyFirst: true });
    await flush();

    const stats = t.hub.stats();
    expect(stats.localFanOuts).toBe(1);
    expect(stats.logReads - readsAtStart.log).toBe(0);
    expect(t.reads.ticket).toBe(0);
    expect((await take(mine)).map((event) => [event.seq, event.ticket.status])).toEqual([[1, TicketStatus.NEW]]);
    // NEW: not the staff member's to see, though the ticket as it is now would be.
    expect(staffs.backlog).toBe(0);
    // Nothing was put off to a timer: it is done.
    jest.advanceTimersByTime(LOCAL_WAIT_MS);
    await flush();
    expect(t.hub.stats().logReads - readsAtStart.log).toBe(0);
    expect(t.localWrites.size).toBe(0);
  });

  it('with no subscriber, notes move the position without reading the log; a later subscriber misses nothing after it', async () => {
    const t = setUp();
    await t.start();
    const readsAtStart = t.hub.stats().logReads;
    // Writes of this process (NOTIFY first or last, local notes out of order) and of another one.
    const first = await t.write(view(TicketStatus.NEW, null), { notifyFirst: true, publish: false });
    await t.write(view(TicketStatus.NEW, null));
    t.sink.committed(first);
    t.otherProcess();
    await t.write(view(TicketStatus.NEW, null), { notifyFirst: true });
    await flush();
    jest.advanceTimersByTime(LOCAL_WAIT_MS);
    await flush();
    expect(t.hub.stats().logReads - readsAtStart).toBe(0);
    expect(t.hub.stats().unsubscribedSkips).toBeGreaterThan(0);
    expect(t.hub.stats().seq).toBe(4);
    // What commits after the subscription arrives, once, in order: another process's (read), then its own (local).
    const mine = t.hub.subscribe(customer, { include: {} });
    t.otherProcess();
    await flush();
    await t.write(view(TicketStatus.NEW, null), { notifyFirst: true });
    await flush();
    jest.advanceTimersByTime(LOCAL_WAIT_MS);
    await flush();
    expect((await take(mine)).map((event) => event.seq)).toEqual([5, 6]);
  });

  it('stays deterministic over many writes, each NOTIFY first', async () => {
    const t = setUp();
    await t.start();
    const mine = t.hub.subscribe(customer, { include: {} });
    const logReads = t.hub.stats().logReads;
    for (let i = 0; i < 10; i++) await t.write(view(TicketStatus.NEW, null), { notifyFirst: true });
    await flush();
    expect(t.hub.stats().localFanOuts).toBe(10);
    expect(t.hub.stats().logReads).toBe(logReads);
    expect((await take(mine)).map((event) => event.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('a note from another process reads the log at once when no write of this process is open', async () => {
    const t = setUp();
    await t.start();
    const mine = t.hub.subscribe(customer, { include: {} });
    const logReads = t.hub.stats().logReads;
    t.otherProcess();
    await flush(); // no timer advanced: no added latency
    expect(t.hub.stats().logReads).toBe(logReads + 1);
    expect((await take(mine)).map((event) => event.seq)).toEqual([1]);
  });

  it('a local note that never comes delays the read by LOCAL_WAIT_MS at most, and a failed write not at all', async () => {
    const t = setUp();
    await t.start();
    const mine = t.hub.subscribe(customer, { include: {} });
    const logReads = t.hub.stats().logReads;
    // Committed, NOTIFY heard, but the writer never publishes (its process lost the answer).
    const lost = await t.write(view(TicketStatus.NEW, null), { notifyFirst: true, publish: false });
    await flush();
    expect(t.hub.stats().logReads).toBe(logReads);
    jest.advanceTimersByTime(LOCAL_WAIT_MS);
    await flush();
    expect(t.hub.stats().logReads).toBe(logReads + 1);
    expect((await take(mine)).map((event) => event.seq)).toEqual([1]);
    t.sink.failed(lost);

    // A write that fails while another process's note waits for it: the read goes at once.
    const change: TicketChange = { kind: TicketEventKind.EDITED, ticketId: TICKET, actorId: 1, at: new Date(0) };
    const open = t.localWrites.begin();
    t.otherProcess();
    await flush();
    expect(t.hub.stats().logReads).toBe(logReads + 1);
    t.localWrites.end(open);
    await flush();
    expect(t.hub.stats().logReads).toBe(logReads + 2);
    expect((await take(mine)).map((event) => event.seq)).toEqual([2]);
    t.sink.failed(change); // never recorded: nothing to end
    expect(t.localWrites.size).toBe(0);
  });

  it('another process\u2019s event before its own: everything once, in order, lost or repeated notes harmless', async () => {
    const t = setUp();
    await t.start();
    const mine = t.hub.subscribe(customer, { include: {} });
    t.otherProcess(false); // its NOTIFY is lost
    await t.write(view(TicketStatus.NEW, null), { notifyFirst: true });
    t.bus.wire({ seq: 2, ticketId: TICKET }); // a repeat
    await flush();
    expect((await take(mine)).map((event) => event.seq)).toEqual([1, 2]);
    await t.write(view(TicketStatus.NEW, null), { notifyFirst: true });
    await flush();
    expect((await take(mine)).map((event) => event.seq)).toEqual([3]);
    expect(t.hub.stats().localFanOuts).toBe(1);
  });

  it('a local note that comes while the log is being read is fanned out from what the writer knew after that read', async () => {
    const t = setUp();
    await t.start();
    const mine = t.hub.subscribe(customer, { include: {} });
    const logReads = t.hub.stats().logReads;
    const answer = t.slowReads();
    t.bus.wire(); // a poll: reads the log (nothing new yet)
    await t.write(view(TicketStatus.NEW, null)); // committed after the read's snapshot; its local note arrives during that read
    await flush();
    expect(t.hub.stats().localFanOuts).toBe(0);
    answer();
    await flush();
    expect(t.hub.stats().logReads).toBe(logReads + 1);
    expect(t.hub.stats().localFanOuts).toBe(1);
    expect(t.reads.ticket).toBe(0);
    expect((await take(mine)).map((event) => event.seq)).toEqual([1]);
  });
});
