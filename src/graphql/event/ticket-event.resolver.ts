import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, ID, Info, Int, Query, Resolver, Root, Subscription, type PubSub } from 'type-graphql';
import { pageOf, pageSize } from '../paging';
import type { RequestContext } from '../context';
import { selectedFields } from '../selection';
import { badInput, forbidden, notFound } from '../../shared/errors';
import { parseUuid } from '../../shared/ids';
import { canView, MESSAGES } from '../../modules/ticket/ticket.rules';
import type { Viewer } from '../../modules/user/viewer';
import { decodeEventCursor, encodeEventCursor } from '../../modules/event/event-cursor';
import { EventLog } from '../../modules/event/event-log';
import { readReplayPage, REPLAY_WINDOW } from '../../modules/event/event-replay';
import type { TicketEventPayload } from '../../modules/event/ticket-event.feed';
import type { LiveContext } from '../live-context';
import { TicketEventConnectionType, TicketEventType } from './ticket-event.type';

/** Page size of `ticketEventLog`: events of the log read per request. */
export const DEFAULT_EVENT_PAGE = 50;
export const MAX_EVENT_PAGE = 100;

/**
 * type-graphql insists on a PubSub once a schema has a subscription, even though `ticketEvents`
 * brings its own source (`subscribe`) and no topic is ever published: events come from the
 * event log through the hub (realtime/event-hub.ts), never from here.
 */
export const NO_TOPICS: PubSub = {
  publish: () => {
    throw new Error('Ticket events are published through the event log, not type-graphql topics');
  },
  subscribe: () => {
    throw new Error('Ticket events are subscribed through the event hub, not type-graphql topics');
  },
};

interface TicketEventsArgs {
  readonly ticketId?: string | null;
  readonly after?: string | null;
}

/**
 * Validates a `ticketEvents` subscription and opens its stream. Everything that can refuse it
 * happens here, before the first event: a malformed `ticketId` or `after` is BAD_USER_INPUT, a
 * ticket that does not exist NOT_FOUND, and one the viewer may not see right now FORBIDDEN (as
 * `Query.ticket` answers). Once open, a single-ticket stream stays open: if the viewer loses
 * sight of the ticket (a reassignment) events stop, and resume if they regain it.
 */
export async function ticketEventsFor(ctx: LiveContext, args: TicketEventsArgs, info: GraphQLResolveInfo): Promise<AsyncIterable<TicketEventPayload>> {
  const feed = ctx.feed;
  if (!feed) throw badInput('ticketEvents', 'Subscriptions run over the graphql-ws WebSocket protocol on /graphql');
  const { viewer, ticketId, after } = await checkEventRequest(ctx, args, () => feed.lastSeq());
  const fields = selectedFields(info, ['ticket']);
  return feed.subscribe(viewer, {
    ticketId,
    after,
    include: { replies: fields.has('replies'), history: fields.has('history') },
    beforeEach: () => ctx.renew?.(),
  });
}

/**
 * What `ticketEvents` and `ticketEventLog` both check before reading anything: a malformed
 * `ticketId` or `after` is BAD_USER_INPUT, a ticket that does not exist NOT_FOUND, one the viewer
 * may not see right now FORBIDDEN (as `Query.ticket` answers), and a cursor beyond the log's end
 * BAD_USER_INPUT.
 */
async function checkEventRequest(
  ctx: RequestContext,
  args: TicketEventsArgs,
  lastSeq: () => Promise<number>,
): Promise<{ viewer: Viewer; ticketId?: string; after?: number }> {
  const viewer = await ctx.viewer();
  const ticketId = args.ticketId == null ? undefined : parseUuid(args.ticketId, 'ticketId');
  const after = args.after == null ? undefined : decodeEventCursor(args.after, 'after');
  if (ticketId !== undefined) {
    const ticket = await ctx.services.reader.findById(ctx.em, ticketId, {});
    if (!ticket) throw notFound('Ticket not found');
    if (!canView(viewer, ticket)) throw forbidden(MESSAGES.view);
  }
  // A seq beyond the log's end was never issued (another database's cursor, or a forged one):
  // accepting it would silently skip the events up to it.
  if (after !== undefined && after > (await lastSeq())) {
    throw badInput('after', 'after is not an event cursor this API returned');
  }
  return { viewer, ticketId, after };
}

/** The log `ticketEventLog` reads (stateless). */
const EVENT_LOG = new EventLog();

/** `Subscription.ticketEvents`; the events themselves come from the hub through `ticketEventsFor`. */
@Resolver(() => TicketEventType)
export class TicketEventResolver {
  @Subscription(() => TicketEventType, {
    description:
      'Changes to every ticket the viewer may see, or to one ticket, as they commit. `after` (a ' +
      'cursor) first replays what happened since that event, with nothing missed and nothing repeated.',
    subscribe: ({ args, context, info }) => ticketEventsFor(context as LiveContext, args as TicketEventsArgs, info),
  })
  ticketEvents(
    @Root() event: TicketEventPayload,
    // type-graphql prints arguments in reverse parameter order: this prints (ticketId, after).
    @Arg('after', () => String, { nullable: true, description: 'The cursor of the last event received.' }) _after?: string | null,
    @Arg('ticketId', () => ID, { nullable: true, description: 'Only this ticket.' }) _ticketId?: string | null,
  ): TicketEventPayload {
    // Over HTTP, GraphQL executes a subscription like a query, without `subscribe`: no event.
    if (event === undefined) throw badInput('ticketEvents', 'Subscriptions run over the graphql-ws WebSocket protocol on /graphql');
    return event;
  }

  @Query(() => TicketEventConnectionType, {
    description:
      'The events ticketEvents delivers, over plain HTTP for clients that poll: the log after `after`, oldest first, ' +
      'as the viewer may see it. Pass pageInfo.endCursor back as `after` to continue with nothing missed or repeated.',
  })
  async ticketEventLog(
    @Ctx() ctx: RequestContext,
    @Info() info: GraphQLResolveInfo,
    // type-graphql prints arguments in reverse parameter order: this prints (after, first, ticketId).
    @Arg('ticketId', () => ID, { nullable: true, description: 'Only this ticket.' }) ticketId?: string | null,
    @Arg('first', () => Int, {
      nullable: true,
      description: `Most events per page, 1 to ${MAX_EVENT_PAGE}; default ${DEFAULT_EVENT_PAGE}. A page reads at most ${REPLAY_WINDOW} entries of the log, skipping those the viewer may not see, so it may hold fewer (even none) while hasNextPage is true.`,
    })
    first?: number | null,
    @Arg('after', () => String, {
      nullable: true,
      description: 'pageInfo.endCursor of the previous page (or an event cursor); absent: from the start of the log.',
    })
    after?: string | null,
  ): Promise<TicketEventConnectionType> {
    const limit = pageSize(first, 'first', MAX_EVENT_PAGE) ?? DEFAULT_EVENT_PAGE;
    const request = await checkEventRequest(ctx, { ticketId, after }, () => EVENT_LOG.lastSeq(ctx.em));
    const fields = selectedFields(info, ['edges', 'node', 'ticket']);
    const page = await readReplayPage(ctx.em, { log: EVENT_LOG, reader: ctx.services.reader }, request.viewer, {
      after: request.after ?? 0,
      ticketId: request.ticketId,
      limit,
      include: { replies: fields.has('replies'), history: fields.has('history') },
    });
    return pageOf(
      page.events,
      (event) => event.cursor,
      (event) => event as unknown as TicketEventType,
      // Where to resume, even when every event read was one the viewer may not see.
      { hasNextPage: page.full, endCursor: page.lastSeq > 0 ? encodeEventCursor(page.lastSeq) : null },
    );
  }
}
