import type { EntityManager } from '@mikro-orm/core';
import type { TicketInclude, TicketReader, TicketView } from '../ticket/ticket.query';
import { canView, visibilityScope } from '../ticket/ticket.rules';
import type { Viewer } from '../user/viewer';
import { encodeEventCursor } from './event-cursor';
import type { EventLog, LoggedEvent } from './event-log';
import type { TicketEventPayload } from './ticket-event.feed';

/** One page of the event log as one viewer may see it. */
export interface ReplayPage {
  /** The events of the page the viewer may see, oldest first. */
  readonly events: TicketEventPayload[];
  /** The seq of the last event read, or `after` when none was: the resume point. */
  readonly lastSeq: number;
  /** The page read as many events as it could: more may follow `lastSeq`. */
  readonly full: boolean;
  /** Tickets read for the page (each at most once). */
  readonly ticketReads: number;
}

export interface ReplayRequest {
  /** Events after this seq. */
  readonly after: number;
  /** Only this ticket's events. */
  readonly ticketId?: string;
  /** Most events read from the log. */
  readonly limit: number;
  /** Nested collections to read with each ticket. */
  readonly include: TicketInclude;
}

/**
 * Replays the event log for one viewer, a page at a time: the `ticketEvents` resume
 * (realtime/event-hub.ts) and the HTTP change feed (`ticketEventLog`) both read through here, so
 * they deliver the same events. Who may see an old event is decided like a live one, with the
 * rule table's `canView` on the ticket as it is now; each ticket of a page is read once.
 */
export async function readReplayPage(
  em: EntityManager,
  source: { readonly log: EventLog; readonly reader: TicketReader },
  viewer: Viewer,
  request: ReplayRequest,
): Promise<ReplayPage> {
  // Read through the viewer's visibility in SQL: a customer resuming from an old cursor reads
  // their own events, not the whole log after it. canView below decides each event like a live one.
  const logged = await source.log.readAfter(em, request.after, {
    ticketId: request.ticketId,
    scope: visibilityScope(viewer),
    limit: request.limit,
  });
  const tickets = await readTickets(em, source.reader, logged, request.include);
  const events: TicketEventPayload[] = [];
  for (const event of logged) {
    const ticket = tickets.get(event.ticketId);
    if (ticket && canView(viewer, ticket)) events.push(payloadOf(event, ticket));
  }
  return {
    events,
    lastSeq: logged.length ? logged[logged.length - 1].seq : request.after,
    full: logged.length >= request.limit,
    ticketReads: tickets.size,
  };
}

/** Each ticket of a batch of events once, as it is now. */
export async function readTickets(
  em: EntityManager,
  reader: TicketReader,
  events: readonly LoggedEvent[],
  include: TicketInclude,
): Promise<Map<string, TicketView>> {
  const ids = [...new Set(events.map((event) => event.ticketId))];
  const views = await Promise.all(ids.map((id) => reader.findById(em, id, include)));
  const tickets = new Map<string, TicketView>();
  for (const view of views) if (view) tickets.set(view.id, view);
  return tickets;
}

/** The payload of a logged event with its ticket as it is now (no per-viewer data in it). */
export function payloadOf(event: LoggedEvent, ticket: TicketView): TicketEventPayload {
  return {
    seq: event.seq,
    cursor: encodeEventCursor(event.seq),
    kind: event.kind,
    ticket,
    reply: event.reply,
    actor: event.actor,
    at: event.at,
  };
}
