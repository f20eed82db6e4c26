import type { EntityManager } from '@mikro-orm/core';
import type { EventLog, LoggedEvent } from '../modules/event/event-log';
import { payloadOf, readReplayPage, readTickets } from '../modules/event/event-replay';
import type { FeedRequest, TicketEventFeed, TicketEventPayload } from '../modules/event/ticket-event.feed';
import type { TicketInclude, TicketReader, TicketView } from '../modules/ticket/ticket.query';
import { visibilityScope } from '../modules/ticket/ticket.rules';
import type { Viewer } from '../modules/user/viewer';
import type { BusLogger, EventBus, EventNote } from './event-bus';
import { LiveSubscription } from './live-subscription';
import type { LocalWrites } from './local-writes';
import type { LiveObserver } from '../metrics/observers';

export interface EventHubOptions {
  readonly fork: () => EntityManager;
  readonly log: EventLog;
  readonly reader: TicketReader;
  readonly bus: EventBus;
  /**
   * This process's writes between appending their event and publishing it (local-writes.ts). With
   * it, a note that would make the hub read the log while one is open waits for them first (at most
   * {@link LOCAL_WAIT_MS}), so the writer's own PostgreSQL NOTIFY, arriving before its local note,
   * does not make the hub read back what the writer is about to hand it.
   */
  readonly localWrites?: LocalWrites;
  readonly logger: BusLogger & { error(object: object, message: string): void };
  /** Events read from the log per statement. */
  readonly batchSize?: number;
  /** Reads the log this often even without notes (0: never); bounds the delay of a lost note. */
  readonly pollIntervalMs?: number;
  /** A subscriber that falls this many events behind is cut off with its resume cursor. */
  readonly maxBacklog?: number;
  /**
   * Live events one subscription holds while it replays the log; beyond it the replay pages on
   * through the log instead. At most the backlog limit minus what a replay page can queue.
   */
  readonly maxHeldDuringReplay?: number;
  /** Metrics: deliveries and drops of every subscription (undefined when metrics are off). */
  readonly observer?: LiveObserver;
}

export interface EventHubStats {
  readonly subscribers: number;
  /** The newest seq this process has read and fanned out. */
  readonly seq: number;
  /** Log reads (each returns a batch of events) since start. */
  readonly logReads: number;
  /** Ticket reads by the fan-out since start: one per ticket per batch, whatever the subscribers. */
  readonly ticketReads: number;
  readonly eventsFannedOut: number;
  /** Wake-ups by a note newer than what was read (from this process or another). */
  readonly noteWakes: number;
  /** Wake-ups by the periodic poll (shared buses only: it catches a lost note). */
  readonly polls: number;
  /** Events of this process's own writes fanned out from what the writer knew, without a log read. */
  readonly localFanOuts: number;
  /** Reads of the log put off because a write of this process was open (its NOTIFY came first, say). */
  readonly localWaits: number;
  /** Of those, the ones that ended by LOCAL_WAIT_MS passing rather than by the writes' notes. */
  readonly localWaitTimeouts: number;
  /** Notes that moved the position without a log read because no one here subscribes (see `wake`). */
  readonly unsubscribedSkips: number;
  /** The most live events any subscription held at once while replaying. */
  readonly peakHeldDuringReplay: number;
  /** Times a replay's held live events overflowed and were let go (it then read on from the log). */
  readonly replayOverflows: number;
}

type LocalEvent = NonNullable<EventNote['local']>;

const RETRY_AFTER_ERROR_MS = 1_000;
/**
 * Longest wait for this process's open writes before reading the log anyway: a local note that
 * never comes (a bug, a write stuck in its commit) delays delivery by this much, never more.
 */
export const LOCAL_WAIT_MS = 50;
const REPLAY_PAGE = 200;
/** Default of maxHeldDuringReplay: with a page queued, it stays under the default backlog limit. */
const DEFAULT_MAX_HELD = 500;

/**
 * The fan-out hub of one process: the only reader of new events from the log, however many
 * subscribers the process serves.
 *
 * Notes from the bus only wake it. It then reads every event after the last seq it has seen
 * (one statement per batch), reads each affected ticket once (as it is now, after the commit),
 * and offers one shared payload per event to the subscribers that might see it. Reading "after
 * the last seq" rather than "the seq in the note" is what makes a lost, repeated or reordered
 * note harmless: a note for N+2 reads N+1 too, a note for a seq already read reads nothing.
 *
 * This process's own writes hand the hub their event and ticket with a local note, which it fans
 * out without reading anything when the event is the next seq. On PostgreSQL the writer's NOTIFY
 * can arrive before that local note; so while a write of this process is open (LocalWrites), a
 * note does not read the log at once but waits for the open writes' local notes (at most
 * LOCAL_WAIT_MS), then reads only if something newer than what they fanned out is still missing.
 * With no write open, a note from another process reads at once.
 *
 * Candidates come from an index built with the rule table's own `visibilityScope` (schedulers:
 * every ticket; others: tickets whose customer or assigned staff member they are), so an event
 * costs work only for subscribers related to its ticket; each candidate then decides with
 * `canView` on the current ticket (LiveSubscription.deliver).
 */
export class TicketEventHub implements TicketEventFeed {
  private readonly fork: () => EntityManager;
  private readonly log: EventLog;
  private readonly reader: TicketReader;
  private readonly bus: EventBus;
  private readonly localWrites: LocalWrites | undefined;
  private readonly logger: EventHubOptions['logger'];
  private readonly batchSize: number;
  private readonly maxBacklog: number;
  private readonly maxHeld: number;
  private readonly pollIntervalMs: number;
  private readonly observer: LiveObserver | undefined;

  private seq = 0;
  /** The newest seq read from the log, fanned out or about to be (a note at or below it is old news). */
  private readUpTo = 0;
  private started = false;
  private closed = false;
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  /** Local notes not fanned out yet (a read of the log was under way, or an event before them is missing). */
  private readonly held = new Map<number, LocalEvent>();
  /**
   * A read of the log put off until this process's writes begun up to `through` have published
   * their notes (or the timer fires); `upTo` is the newest seq a note asked for (Infinity: a wake
   * without a note, which reads whatever there is).
   */
  private deferred: { through: number; upTo: number; timer: NodeJS.Timeout } | undefined;

  private readonly subscriptions = new Set<LiveSubscription>();
  /** Subscribers who see every ticket. */
  private readonly seeingAll = new Set<LiveSubscription>();
  /** Subscribers who see the tickets they filed or are assigned, by their user id. */
  private readonly byUser = new Map<number, Set<LiveSubscription>>();
  /** How many subscribers want each nested collection: the fan-out reads it only if someone does. */
  private readonly wanted = { replies: 0, history: 0 };
  private readonly counters = {
    logReads: 0,
    ticketReads: 0,
    eventsFannedOut: 0,
    noteWakes: 0,
    polls: 0,
    localFanOuts: 0,
    localWaits: 0,
    localWaitTimeouts: 0,
    unsubscribedSkips: 0,
    peakHeldDuringReplay: 0,
    replayOverflows: 0,
  };

  constructor(options: EventHubOptions) {
    this.fork = options.fork;
    this.log = options.log;
    this.reader = options.reader;
    this.bus = options.bus;
    this.localWrites = options.localWrites;
    this.localWrites?.onEnd(() => {
      if (this.deferred && !this.localWrites!.openThrough(this.deferred.through)) this.endDeferral();
    });
    this.logger = options.logger;
    this.batchSize = options.batchSize ?? 500;
    this.maxBacklog = options.maxBacklog ?? 1_000;
    // Released at the replay's end on top of up to a page and a half already queued.
    this.maxHeld = Math.max(1, Math.min(options.maxHeldDuringReplay ?? DEFAULT_MAX_HELD, this.maxBacklog - 2 * REPLAY_PAGE));
    this.pollIntervalMs = options.pollIntervalMs ?? 0;
    this.observer = options.observer;
  }

  /** Starts after the newest event already in the log (older ones are for replay only). */
  async start(): Promise<void> {
    this.seq = await this.log.lastSeq(this.fork());
    this.started = true;
    this.bus.listen((note) => this.wake(note));
    if (this.pollIntervalMs > 0) {
      this.pollTimer = setInterval(() => {
        this.counters.polls++;
        this.wake();
      }, this.pollIntervalMs);
      this.pollTimer.unref();
    }
    // Anything committed between reading the last seq and listening.
    this.wake();
  }

  stats(): EventHubStats {
    let { peakHeldDuringReplay, replayOverflows } = this.counters;
    for (const subscription of this.subscriptions) {
      peakHeldDuringReplay = Math.max(peakHeldDuringReplay, subscription.peakHeld);
      replayOverflows += subscription.heldOverflows;
    }
    return { subscribers: this.subscriptions.size, seq: this.seq, ...this.counters, peakHeldDuringReplay, replayOverflows };
  }

  async lastSeq(): Promise<number> {
    return this.log.lastSeq(this.fork());
  }

  subscribe(viewer: Viewer, request: FeedRequest): LiveSubscription {
    if (this.closed) throw new Error('The event hub is closed');
    const subscription = new LiveSubscription({
      viewer,
      ticketId: request.ticketId,
      include: request.include,
      after: request.after ?? 0,
      maxQueue: this.maxBacklog,
      maxHeld: this.maxHeld,
      beforeEach: request.beforeEach,
      onEnd: (ended) => this.unregister(ended),
      observer: this.observer,
    });
    this.register(subscription);
    if (request.after !== undefined) {
      // Live first, then the log: whatever commits meanwhile is held, none of it is missed.
      subscription.beginReplay();
      this.replay(subscription, request.after).then(
        () => subscription.endReplay(),
        (error: unknown) => {
          this.logger.error({ err: error }, 'replaying the event log failed');
          subscription.fail(error);
        },
      );
    }
    return subscription;
  }

  /**
   * A user's roles or admin flag changed: their subscriptions see with the new viewer from the next
   * event on (delivery asks `canView` with it), and are re-indexed, so a staff member who became a
   * scheduler receives every ticket and one who lost STAFF stops receiving their tickets.
   */
  updateViewer(viewer: Viewer): void {
    for (const subscription of [...this.subscriptions]) {
      if (subscription.viewer.id !== viewer.id) continue;
      this.unregister(subscription);
      subscription.viewer = viewer;
      this.register(subscription);
    }
  }

  /**
   * A note arrived, or a reconnect or poll asks for a read. A local note that is the next seq is
   * fanned out from what its writer knew; otherwise the log is read, once this process's own open
   * writes have published their notes (at most {@link LOCAL_WAIT_MS}; at once when none is open).
   */
  wake(note?: EventNote): void {
    if (!this.started || this.closed) return;
    if (note) {
      if (note.seq <= this.seen) return;
      this.counters.noteWakes++;
      if (this.subscriptions.size === 0 && !this.pumping) {
        // No one here to deliver to: the position moves to the note's seq without reading the
        // log. Nothing at or below it can still commit: a note is sent after its commit, and every
        // event is appended under the event-order lock held until its commit (event-log.ts), so
        // seq order is commit order. A later subscriber gets what commits after it (live) or
        // reads the log from its cursor (replay), as when the log was read here.
        this.counters.unsubscribedSkips++;
        this.seq = note.seq;
        this.readUpTo = Math.max(this.readUpTo, note.seq);
        for (const seq of this.held.keys()) if (seq <= note.seq) this.held.delete(seq);
        return;
      }
      if (note.local) {
        this.held.set(note.seq, note.local);
        // The read under way fans it out when done (or reads it from the log).
        if (this.pumping) return;
        this.fanOutHeld();
        if (note.seq <= this.seen) return;
      }
    }
    this.pumpAfterLocalWrites(note?.seq ?? Number.POSITIVE_INFINITY);
  }

  /**
   * Resolves when everything committed so far has been fanned out and handed to the subscribers
   * (or `timeoutMs` passed): shutdown waits for this before closing sockets.
   */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    try {
      await Promise.race([this.pump(), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
    } catch {
      // Logged by the pump; shutdown goes on.
    }
    while (Date.now() < deadline && [...this.subscriptions].some((subscription) => subscription.backlog > 0)) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Ends every subscription and stops reading. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.deferred?.timer);
    this.deferred = undefined;
    this.held.clear();
    clearInterval(this.pollTimer);
    for (const subscription of [...this.subscriptions]) void subscription.return();
  }

  private register(subscription: LiveSubscription): void {
    this.subscriptions.add(subscription);
    const scope = visibilityScope(subscription.viewer);
    if (scope.all) this.seeingAll.add(subscription);
    else if (scope.customerId !== undefined || scope.assignedStaffId !== undefined) {
      const set = this.byUser.get(subscription.viewer.id) ?? new Set();
      set.add(subscription);
      this.byUser.set(subscription.viewer.id, set);
    }
    if (subscription.include.replies) this.wanted.replies++;
    if (subscription.include.history) this.wanted.history++;
  }

  private unregister(subscription: LiveSubscription): void {
    if (!this.subscriptions.delete(subscription)) return;
    this.counters.peakHeldDuringReplay = Math.max(this.counters.peakHeldDuringReplay, subscription.peakHeld);
    this.counters.replayOverflows += subscription.heldOverflows;
    this.seeingAll.delete(subscription);
    const set = this.byUser.get(subscription.viewer.id);
    if (set?.delete(subscription) && set.size === 0) this.byUser.delete(subscription.viewer.id);
    if (subscription.include.replies) this.wanted.replies--;
    if (subscription.include.history) this.wanted.history--;
  }

  /** One pump at a time; a wake during a pump makes it read once more when done. */
  private pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return this.pumping;
    }
    this.pumping = (async () => {
      try {
        do {
          this.pumpAgain = false;
          await this.fanOutNewEvents();
          // Local notes that came during the read: the next seqs fan out from what their writers
          // knew; one after a gap (an event of another process not read yet) is read from the log.
          this.fanOutHeld();
          if (this.held.size > 0) {
            this.held.clear();
            this.pumpAgain = true;
          }
        } while (this.pumpAgain && !this.closed);
      } catch (error) {
        this.logger.error({ err: error }, 'reading the event log failed; retrying');
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.wake(), RETRY_AFTER_ERROR_MS);
        this.retryTimer.unref();
        throw error;
      } finally {
        this.pumping = undefined;
      }
    })();
    this.pumping.catch(() => undefined);
    return this.pumping;
  }

  private async fanOutNewEvents(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      const em = this.fork();
      const events = await this.log.readAfter(em, this.seq, { limit: this.batchSize });
      this.counters.logReads++;
      if (!events.length) return;
      this.readUpTo = Math.max(this.readUpTo, events[events.length - 1].seq);
      if (this.subscriptions.size === 0) {
        this.seq = events[events.length - 1].seq;
      } else {
        const include = { replies: this.wanted.replies > 0, history: this.wanted.history > 0 };
        const tickets = await this.readTickets(em, events, include);
        for (const event of events) {
          // A payload built here is shared by every subscriber of this process.
          const ticket = tickets.get(event.ticketId);
          if (ticket) this.fanOut(payloadOf(event, ticket));
          this.seq = event.seq;
        }
      }
      if (events.length < this.batchSize) return;
    }
  }

  /** The newest seq read or fanned out: a note at or below it is old news. */
  private get seen(): number {
    return Math.max(this.seq, this.readUpTo);
  }

  /**
   * Reads the log now, or, while a write of this process is open (its note may be about to come
   * with what the read would fetch), once the writes open now have published their notes or
   * {@link LOCAL_WAIT_MS} passed. Then only if something newer than what was fanned out meanwhile
   * is still wanted.
   */
  private pumpAfterLocalWrites(upTo: number): void {
    const writes = this.localWrites;
    if (!writes || writes.size === 0) {
      void this.pump();
      return;
    }
    if (this.deferred) {
      this.deferred.through = writes.newest;
      this.deferred.upTo = Math.max(this.deferred.upTo, upTo);
      return;
    }
    this.counters.localWaits++;
    const timer = setTimeout(() => {
      this.counters.localWaitTimeouts++;
      this.endDeferral();
    }, LOCAL_WAIT_MS);
    timer.unref();
    this.deferred = { through: writes.newest, upTo, timer };
  }

  private endDeferral(): void {
    const deferred = this.deferred;
    if (!deferred) return;
    clearTimeout(deferred.timer);
    this.deferred = undefined;
    if (this.closed) return;
    if (!this.pumping) this.fanOutHeld();
    if (deferred.upTo > this.seen || this.held.size > 0) void this.pump();
  }

  /**
   * Fans out the held local notes that follow the last seq fanned out, in order; drops those the
   * log already delivered. Only while no read of the log is under way.
   */
  private fanOutHeld(): void {
    for (const seq of this.held.keys()) if (seq <= this.seen) this.held.delete(seq);
    for (;;) {
      const local = this.held.get(this.seq + 1);
      if (!local || !this.fanOutLocal(local)) return;
      this.held.delete(local.event.seq);
    }
  }

  /**
   * An event written by this process, fanned out from what its writer knows, without reading the
   * log: only when it is the very next seq after the last one fanned out (nothing can be missing
   * before it: seq order is commit order) and no read of the log is under way (the callers see to
   * that), and only when the writer's ticket carries every nested collection a subscriber here wants. Otherwise the log
   * is read as for any note. The ticket is as the event's own transaction left it.
   */
  private fanOutLocal(local: LocalEvent): boolean {
    if (local.event.seq !== this.seq + 1 || this.seq < this.readUpTo) return false;
    if (this.subscriptions.size > 0) {
      const { ticket } = local;
      if ((this.wanted.replies > 0 && !ticket.replies) || (this.wanted.history > 0 && !ticket.history)) return false;
      this.fanOut(payloadOf(local.event, ticket));
    }
    this.counters.localFanOuts++;
    this.seq = local.event.seq;
    this.readUpTo = Math.max(this.readUpTo, this.seq);
    return true;
  }

  private fanOut(payload: TicketEventPayload): void {
    this.counters.eventsFannedOut++;
    const { customerId, staffId } = payload.ticket;
    for (const subscription of this.seeingAll) subscription.offer(payload);
    const owners = this.byUser.get(customerId);
    if (owners) for (const subscription of owners) subscription.offer(payload);
    if (staffId !== null && staffId !== customerId) {
      const assignees = this.byUser.get(staffId);
      if (assignees) for (const subscription of assignees) subscription.offer(payload);
    }
  }

  /** Each ticket of a batch once, as it is now. */
  private async readTickets(em: EntityManager, events: readonly LoggedEvent[], include: TicketInclude): Promise<Map<string, TicketView>> {
    const tickets = await readTickets(em, this.reader, events, include);
    this.counters.ticketReads += new Set(events.map((event) => event.ticketId)).size;
    return tickets;
  }

  /**
   * A resume: the log after `after`, page by page, each page's tickets read fresh (who may see an
   * old event is decided by the ticket as it is now, like a live one). Pages wait for the
   * subscriber to take the previous one, so a long replay holds one page in memory.
   *
   * Bounded both ways: the log is read through the viewer's visibility scope in SQL (a customer
   * resuming from an old cursor reads their own events, not the whole log after it), and the live
   * events held meanwhile are bounded (LiveSubscription.offer): when they overflow, the replay
   * reads on until it reaches the end of the log with nothing let go since it last got there.
   */
  private async replay(subscription: LiveSubscription, after: number): Promise<void> {
    let seq = after;
    for (;;) {
      if (subscription.isEnded) return;
      // The same page reader as the HTTP change feed (ticketEventLog): the same events for a viewer.
      const page = await readReplayPage(this.fork(), { log: this.log, reader: this.reader }, subscription.viewer, {
        after: seq,
        ticketId: subscription.ticketId,
        limit: REPLAY_PAGE,
        include: subscription.include,
      });
      this.counters.logReads++;
      this.counters.ticketReads += page.ticketReads;
      for (const event of page.events) subscription.deliver(event);
      seq = page.lastSeq;
      if (!page.full) {
        if (!subscription.replayFellBehind) return;
        subscription.catchUp();
        continue;
      }
      await subscription.whenBacklogAtMost(REPLAY_PAGE / 2);
    }
  }
}
