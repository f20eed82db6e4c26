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
  /**
   * Where to resume: the seq of the last event of a full page, else the end of the window read
   * (past the events the viewer may not see), or `after` when nothing was read.
   */
  readonly lastSeq: number;
  /** More of the log may follow `lastSeq`: the page is full, or the window ended before the log. */
  readonly full: boolean;
  /** Tickets read for the page (each at most once). */
  readonly ticketReads: number;
}

export interface ReplayRequest {
  /** Events after this seq. */
  readonly after: number;
  /** Only this ticket's events. */
  readonly ticketId?: string;
  /** Most events returned. */
  readonly limit: number;
  /** Nested collections to read with each ticket. */
  readonly include: TicketInclude;
  /** Seqs of the log one page may scan at most; default {@link REPLAY_WINDOW}. */
  readonly window?: number;
}

/**
 * How far past `after` one page reads the log. The log is read through the viewer's visibility
 * in SQL, so a page scans at most this many log entries however few of them the viewer may see,
 * and a page with none still moves its resume point on to the end of the window.
 */
export const REPLAY_WINDOW = 10_000;

/**
 * Replays the event log for one viewer, a page at a time: the `ticketEvents` resume
 * (realtime/event-hub.ts) and the HTTP change feed (`ticketEventLog`) both read through here, so
 * they deliver the same events. Who may see an old event is decided like a live one, with the
 * rule table's `canView` on the ticket as it is now (and the same visibility, as SQL, narrows
 * what is read); each ticket of a page is read once.
 *
 * No gap, no repeat: the newest seq is read first, and the event-order lock makes seq order the
 * commit order, so an event committed after that read has a larger seq than the window's end.
 */
export async function readReplayPage(
  em: EntityManager,
  source: { readonly log: EventLog; readonly reader: TicketReader },
  viewer: Viewer,
  request: ReplayRequest,
): Promise<ReplayPage> {
  const head = await source.log.lastSeq(em);
  const through = Math.min(request.after + (request.window ?? REPLAY_WINDOW), head);
  const logged =
    through > request.after
      ? await source.log.readAfter(em, request.after, {
          ticketId: request.ticketId,
          scope: visibilityScope(viewer),
          limit: request.limit,
          throughSeq: through,
        })
      : [];
  const tickets = await readTickets(em, source.reader, logged, request.include);
  const events: TicketEventPayload[] = [];
  for (const event of logged) {
    const ticket = tickets.get(event.ticketId);
    if (ticket && canView(viewer, ticket)) events.push(payloadOf(event, ticket));
  }
  const pageFull = logged.length >= request.limit;
  return {
    events,
    lastSeq: pageFull ? logged[logged.length - 1].seq : Math.max(request.after, through),
    full: pageFull || through < head,
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
