import type { TicketInclude, TicketView, UserSummary } from '../ticket/ticket.query';
import type { EventReply } from './event-log';
import type { Viewer } from '../user/viewer';
import type { TicketEventKind } from './ticket-change';

/**
 * One event as subscribers receive it. The same object goes to every subscriber of a process:
 * what differs per subscriber (whether they see it, their permission flags, their selection) is
 * decided when it is delivered to them, not stored in it.
 */
export interface TicketEventPayload {
  readonly seq: number;
  readonly cursor: string;
  readonly kind: TicketEventKind;
  /** The ticket as it is now (read after the event committed), without per-viewer flags. */
  readonly ticket: TicketView;
  /** Without its text once the reply is deleted. */
  readonly reply: EventReply | null;
  readonly actor: UserSummary;
  /** ms since the epoch. */
  readonly at: number;
}

export interface FeedRequest {
  /** Only this ticket's events. */
  readonly ticketId?: string;
  /** Replay the log after this seq first, then continue live. */
  readonly after?: number;
  /** Nested collections the subscriber's selection asks of `ticket`. */
  readonly include: TicketInclude;
  /** Runs before each event is handed over (the transport renews the operation's EntityManager). */
  readonly beforeEach?: () => void;
}

/** The live side of the event log, as the subscription resolver sees it (realtime/event-hub.ts). */
export interface TicketEventFeed {
  /** The newest seq in the log (0 when empty): cursors beyond it were never issued. */
  lastSeq(): Promise<number>;
  /** Events for `viewer` from now on (after `request.after` when given), in seq order. */
  subscribe(viewer: Viewer, request: FeedRequest): AsyncIterableIterator<TicketEventPayload>;
}
