import type { TicketEventPayload } from '../modules/event/ticket-event.feed';
import { encodeEventCursor } from '../modules/event/event-cursor';
import { canView } from '../modules/ticket/ticket.rules';
import type { TicketInclude } from '../modules/ticket/ticket.query';
import type { Viewer } from '../modules/user/viewer';
import { DomainError, ErrorCode } from '../shared/errors';
import type { LiveObserver } from '../metrics/observers';

export interface LiveSubscriptionOptions {
  readonly viewer: Viewer;
  readonly ticketId?: string;
  readonly include: TicketInclude;
  /** Events at or below this seq are never delivered (a resume point). */
  readonly after: number;
  /** Undelivered events a subscriber may fall behind by before it is cut off. */
  readonly maxQueue: number;
  /**
   * Live events held while the log is replayed. Beyond this the held events are let go and the
   * replay reads them from the log instead (see {@link LiveSubscription.offer}).
   */
  readonly maxHeld: number;
  readonly beforeEach?: () => void;
  /** Called once when the subscription ends, however it ends. */
  readonly onEnd: (subscription: LiveSubscription) => void;
  /** Metrics: deliveries and drops (undefined when metrics are off). */
  readonly observer?: LiveObserver;
}

/**
 * One subscriber's stream: a queue the hub fills and graphql-ws drains, as an async iterator.
 *
 * Written by hand rather than as an async generator: a generator waiting for its next event
 * cannot be returned from until that event arrives, so a client that unsubscribes from a quiet
 * ticket would linger until the ticket changed. Here `return()` ends a pending `next()` at once.
 *
 * Who receives what is decided here, at delivery, with the rule table's own `canView` on the
 * ticket as it is now: a staff member reassigned away stops receiving at once, staff never see
 * a NEW ticket, other customers never see it.
 */
export class LiveSubscription implements AsyncIterableIterator<TicketEventPayload> {
  /** Replaced when the user's roles change (the hub re-indexes the subscription then). */
  viewer: Viewer;
  readonly ticketId: string | undefined;
  readonly include: TicketInclude;
  /** Highest seq delivered or passed over: nothing at or below it is offered again. */
  private lastSeq: number;
  /** Highest seq handed to the consumer: the resume point if this subscriber is cut off. */
  private lastHandedOver: number;
  private readonly queue: TicketEventPayload[] = [];
  private head = 0;
  private waiting: { resolve: (result: IteratorResult<TicketEventPayload>) => void; reject: (error: unknown) => void } | undefined;
  private failure: unknown;
  private ended = false;
  /** While the log is replayed, live events wait here (subscribe first, then read: no gap). */
  private buffer: TicketEventPayload[] | undefined;
  /** Live events came faster than the replay: they were let go, and the replay must read on. */
  private heldOverflow = false;
  /** The most live events held at once during a replay (for the hub's stats). */
  peakHeld = 0;
  /** How often held live events overflowed and were let go (for the hub's stats). */
  heldOverflows = 0;
  /** Made when a replay first waits (most subscriptions never replay). */
  private drainWaiters: Array<() => void> | undefined;

  constructor(private readonly options: LiveSubscriptionOptions) {
    this.viewer = options.viewer;
    this.ticketId = options.ticketId;
    this.include = options.include;
    this.lastSeq = options.after;
    this.lastHandedOver = options.after;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Undelivered events. */
  get backlog(): number {
    return this.queue.length - this.head;
  }

  /** Live events are held back until `endReplay`. */
  beginReplay(): void {
    this.buffer = [];
    this.heldOverflow = false;
  }

  /**
   * Whether live events were let go since the replay began (or last caught up): the replay has
   * not reached the live stream yet and must read the log on.
   */
  get replayFellBehind(): boolean {
    return this.heldOverflow;
  }

  /**
   * The replay read the log up to its end after live events were let go: hold live events again
   * from now on. Everything let go before this committed before it, so the next read of the log
   * (which must follow this call) returns it.
   */
  catchUp(): void {
    this.buffer = [];
    this.heldOverflow = false;
  }

  /** Replay is over: release the held live events, skipping what the replay delivered. */
  endReplay(): void {
    const held = this.buffer ?? [];
    this.buffer = undefined;
    for (const event of held) this.deliver(event);
  }

  /**
   * The hub's live events; held back during a replay, at most `maxHeld` of them. A replay from an
   * old cursor can take long while everyone else's traffic goes on: rather than hold all of it,
   * past the bound the held events are let go and new ones are not kept, and the replay pages
   * through the log until it meets the live stream (every event let go is in the log).
   */
  offer(event: TicketEventPayload): void {
    if (this.ended) return;
    if (!this.buffer) return this.deliver(event);
    if (this.heldOverflow || !this.wants(event)) return;
    this.buffer.push(event);
    if (this.buffer.length > this.options.maxHeld) {
      this.buffer = [];
      this.heldOverflow = true;
      this.heldOverflows++;
    } else if (this.buffer.length > this.peakHeld) {
      this.peakHeld = this.buffer.length;
    }
  }

  /** Whether this subscriber would be given the event (its ticket, and it may see it now). */
  private wants(event: TicketEventPayload): boolean {
    if (this.ticketId !== undefined && event.ticket.id !== this.ticketId) return false;
    return canView(this.viewer, event.ticket);
  }

  /** Delivers an event if it is new to this subscriber and the subscriber may see it now. */
  deliver(event: TicketEventPayload): void {
    if (this.ended || event.seq <= this.lastSeq) return;
    this.lastSeq = event.seq;
    if (!this.wants(event)) return;
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      this.handOver(event);
      resolve({ value: event, done: false });
      return;
    }
    this.queue.push(event);
    if (this.backlog > this.options.maxQueue) {
      this.fail(
        new DomainError(
          ErrorCode.UNAVAILABLE,
          `This subscriber fell more than ${this.options.maxQueue} events behind; resubscribe with after: "${encodeEventCursor(this.lastHandedOver)}"`,
        ),
      );
    }
  }

  /** Resolves once the backlog is at most `size` (replay pages wait for the consumer). */
  async whenBacklogAtMost(size: number): Promise<void> {
    while (!this.ended && this.backlog > size) {
      await new Promise<void>((resolve) => (this.drainWaiters ??= []).push(resolve));
    }
  }

  /** Ends the stream with an error, delivered after nothing else (undelivered events are dropped). */
  fail(error: unknown): void {
    if (this.ended) return;
    this.failure = error;
    this.options.observer?.eventsDropped(this.backlog);
    this.queue.length = 0;
    this.head = 0;
    if (this.waiting) {
      const { reject } = this.waiting;
      this.waiting = undefined;
      this.failure = undefined;
      reject(error);
    }
    this.end();
  }

  next(): Promise<IteratorResult<TicketEventPayload>> {
    if (this.head < this.queue.length) {
      const event = this.queue[this.head++];
      if (this.head === this.queue.length) {
        // Drained: delivered events are not held (nor, through them, their shared results).
        this.queue.length = 0;
        this.head = 0;
      } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.handOver(event);
      this.wakeDrainWaiters();
      return Promise.resolve({ value: event, done: false });
    }
    if (this.failure !== undefined) {
      const failure = this.failure;
      this.failure = undefined;
      return Promise.reject(failure);
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    this.wakeDrainWaiters();
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<TicketEventPayload>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<TicketEventPayload>> {
    this.end();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<TicketEventPayload> {
    return this;
  }

  private handOver(event: TicketEventPayload): void {
    this.lastHandedOver = event.seq;
    this.options.observer?.eventDelivered(event.at);
    this.options.beforeEach?.();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.buffer = undefined;
    if (this.waiting && this.failure === undefined) {
      this.waiting.resolve({ value: undefined, done: true });
      this.waiting = undefined;
    }
    this.wakeDrainWaiters();
    this.options.onEnd(this);
  }

  private wakeDrainWaiters(): void {
    if (!this.drainWaiters?.length) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = undefined;
    for (const wake of waiters) wake();
  }
}
