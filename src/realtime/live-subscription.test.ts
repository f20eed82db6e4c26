import { decodeEventCursor, encodeEventCursor } from '../modules/event/event-cursor';
import { TicketEventKind } from '../modules/event/ticket-change';
import type { TicketEventPayload } from '../modules/event/ticket-event.feed';
import type { TicketView } from '../modules/ticket/ticket.query';
import { TicketStatus } from '../modules/ticket/ticket-status';
import { Role } from '../modules/user/role';
import type { Viewer } from '../modules/user/viewer';
import { DomainError, ErrorCode } from '../shared/errors';
import { LiveSubscription, type LiveSubscriptionOptions } from './live-subscription';

const customer: Viewer = { id: 1, username: 'customer', roles: [Role.CUSTOMER], isAdmin: false };
const staff: Viewer = { id: 2, username: 'staff', roles: [Role.STAFF], isAdmin: false };
const TICKET = '01900000-0000-7000-8000-000000000001';

function ticket(status: TicketStatus, staffId: number | null, id = TICKET): TicketView {
  const user = { id: 1, username: 'customer', roles: [Role.CUSTOMER] };
  return { id, status, content: 'x', imageIds: [], customerId: 1, staffId, customer: user, scheduler: null, staff: null, createdAt: 0, updatedAt: 0 };
}

function event(seq: number, view: TicketView = ticket(TicketStatus.NEW, null)): TicketEventPayload {
  return { seq, cursor: encodeEventCursor(seq), kind: TicketEventKind.EDITED, ticket: view, reply: null, actor: view.customer, at: 0 };
}

function open(options: Partial<LiveSubscriptionOptions> = {}): { subscription: LiveSubscription; ended: () => number } {
  let ends = 0;
  const subscription = new LiveSubscription({
    viewer: customer,
    include: {},
    after: 0,
    maxQueue: 10,
    maxHeld: 5,
    onEnd: () => ends++,
    ...options,
  });
  return { subscription, ended: () => ends };
}

const seqs = async (subscription: LiveSubscription, count: number): Promise<number[]> => {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(((await subscription.next()).value as TicketEventPayload).seq);
  return out;
};

describe('LiveSubscription', () => {
  it('delivers in order, once, only what the viewer may see now', async () => {
    const { subscription } = open({ viewer: staff });
    subscription.offer(event(1, ticket(TicketStatus.NEW, 2))); // NEW: hidden from staff even when assigned
    subscription.offer(event(2, ticket(TicketStatus.ASSIGNED, 2)));
    subscription.offer(event(2, ticket(TicketStatus.ASSIGNED, 2))); // a repeat
    subscription.offer(event(3, ticket(TicketStatus.ASSIGNED, 9))); // reassigned away
    subscription.offer(event(4, ticket(TicketStatus.IN_PROCESSING, 2)));
    expect(await seqs(subscription, 2)).toEqual([2, 4]);
    expect(subscription.backlog).toBe(0);
  });

  it('filters by ticket and starts after its resume point', async () => {
    const other = '01900000-0000-7000-8000-000000000002';
    const { subscription } = open({ ticketId: TICKET, after: 5 });
    for (const seq of [4, 5, 6]) subscription.offer(event(seq));
    subscription.offer(event(7, ticket(TicketStatus.NEW, null, other)));
    subscription.offer(event(8));
    expect(await seqs(subscription, 2)).toEqual([6, 8]);
  });

  it('holds live events during a replay and skips those the replay delivered (the seam)', async () => {
    const { subscription } = open({ after: 10 });
    subscription.beginReplay();
    subscription.offer(event(12)); // committed while the log was being read: the replay saw it too
    subscription.offer(event(14)); // committed after the replay read: only live has it
    for (const seq of [11, 12, 13]) subscription.deliver(event(seq));
    subscription.endReplay();
    subscription.offer(event(15));
    expect(await seqs(subscription, 5)).toEqual([11, 12, 13, 14, 15]);
  });

  it('ends a pending next() at once when returned, and reports its end once', async () => {
    const { subscription, ended } = open();
    const pending = subscription.next();
    await subscription.return();
    await expect(pending).resolves.toEqual({ value: undefined, done: true });
    await subscription.return();
    expect(ended()).toBe(1);
    subscription.offer(event(1));
    await expect(subscription.next()).resolves.toEqual({ value: undefined, done: true });
  });

  it('cuts off a subscriber that falls too far behind, with the cursor to resume from', async () => {
    const { subscription, ended } = open({ maxQueue: 3 });
    subscription.offer(event(1));
    expect(await seqs(subscription, 1)).toEqual([1]);
    for (const seq of [2, 3, 4, 5]) subscription.offer(event(seq));
    expect(ended()).toBe(1);
    const failure = await subscription.next().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(DomainError);
    expect((failure as DomainError).code).toBe(ErrorCode.UNAVAILABLE);
    const cursor = /after: "([^"]+)"/.exec((failure as DomainError).message)?.[1];
    expect(decodeEventCursor(cursor, 'after')).toBe(1);
    await expect(subscription.next()).resolves.toEqual({ value: undefined, done: true });
  });

  it('renews the operation context before each event it hands over', async () => {
    let renewals = 0;
    const { subscription } = open({ beforeEach: () => renewals++ });
    subscription.offer(event(1));
    const pending = subscription.next();
    subscription.offer(event(2));
    await seqs(subscription, 1);
    await pending;
    expect(renewals).toBe(2);
  });
});

describe('live events held during a replay', () => {
  it('holds at most maxHeld, then lets them go and asks the replay to read on; after catchUp it holds again', async () => {
    const { subscription } = open({ maxHeld: 5 });
    subscription.beginReplay();
    for (let seq = 10; seq < 15; seq++) subscription.offer(event(seq));
    expect(subscription.replayFellBehind).toBe(false);
    expect(subscription.peakHeld).toBe(5);
    subscription.offer(event(15));
    expect(subscription.replayFellBehind).toBe(true);
    // Let go: these are in the log; the replay delivers them.
    for (let seq = 16; seq < 100; seq++) subscription.offer(event(seq));
    expect(subscription.peakHeld).toBe(5);
    for (let seq = 10; seq <= 17; seq++) subscription.deliver(event(seq));
    subscription.catchUp();
    expect(subscription.replayFellBehind).toBe(false);
    subscription.offer(event(100));
    subscription.endReplay();
    expect(await seqs(subscription, 9)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 100]);
  });

  it('does not hold events the subscriber would not be given', () => {
    const { subscription } = open({ maxHeld: 2, ticketId: TICKET });
    subscription.beginReplay();
    for (let seq = 1; seq < 50; seq++) subscription.offer(event(seq, ticket(TicketStatus.NEW, null, '00000000-0000-7000-8000-00000000ffff')));
    expect(subscription.replayFellBehind).toBe(false);
    expect(subscription.peakHeld).toBe(0);
  });
});

describe('event cursors', () => {
  it('round-trip a seq', () => {
    expect(decodeEventCursor(encodeEventCursor(42), 'after')).toBe(42);
  });

  it.each([
    ['not base64url', 'a b'],
    ['another prefix', Buffer.from('ticket:5').toString('base64url')],
    ['zero', Buffer.from('event:0').toString('base64url')],
    ['a leading zero', Buffer.from('event:05').toString('base64url')],
    ['a negative seq', Buffer.from('event:-5').toString('base64url')],
    ['a fraction', Buffer.from('event:1.5').toString('base64url')],
    ['beyond 2^53', Buffer.from('event:99999999999999999').toString('base64url')],
    ['a number', 5],
    ['too long', 'A'.repeat(100)],
  ])('refuse %s with BAD_INPUT naming the field', (_case, cursor) => {
    expect(() => decodeEventCursor(cursor, 'after')).toThrow(expect.objectContaining({ code: ErrorCode.BAD_INPUT, details: { field: 'after' } }));
  });
});
