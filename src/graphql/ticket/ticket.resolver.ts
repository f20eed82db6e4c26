import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, FieldResolver, ID, Info, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { pageOf, pageSize } from '../paging';
import type { RequestContext } from '../context';
import { selectedFields } from '../selection';
import { badInput, forbidden, notFound } from '../../shared/errors';
import { parseUserId, parseUuid } from '../../shared/ids';
import { Role } from '../../modules/user/role';
import { hasRole } from '../../modules/user/viewer';
import { imageUrl, parseImageRefs } from '../../modules/image/image-ref';
import { ReplyType } from '../reply/reply.type';
import { INCLUDE_ALL, positionOf } from '../../modules/ticket/ticket.query';
import type { HistoryView, ReplyView, TicketFilter, TicketInclude, TicketStatsView, TicketView, TimeRange } from '../../modules/ticket/ticket.query';
import { decodeTicketCursor, encodeTicketCursor, NEWEST_FIRST } from '../../modules/ticket/ticket-order';
import { parseSearch } from '../../modules/ticket/ticket-search';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../modules/ticket/ticket-page';
import { canView, MESSAGES, permissionsFor, TicketOperation } from '../../modules/ticket/ticket.rules';
import type { TicketPermissions } from '../../modules/ticket/ticket.rules';
import type { TransitionOperation } from '../../modules/ticket/ticket.service';
import {
  CreateTicketInput,
  DateTimeRangeInput,
  EditTicketInput,
  HistoryEntryType,
  TicketConnectionType,
  TicketFilterInput,
  TicketOrderInput,
  TicketPermissionsType,
  TicketStatsType,
  TicketType,
} from './ticket.type';

/** A user id of a filter, or BAD_INPUT naming the field. */
const filterUserId = (value: string | null | undefined, field: string): number | undefined => (value == null ? undefined : parseUserId(value, field));

function timeRange(range: DateTimeRangeInput | null | undefined, field: string): TimeRange | undefined {
  if (!range) return undefined;
  const bound = (value: Date | null | undefined, name: string): number | undefined => {
    if (value == null) return undefined;
    const ms = value.getTime();
    if (!Number.isFinite(ms)) throw badInput(`${field}.${name}`, `${field}.${name} must be a date-time`);
    return ms;
  };
  return { gte: bound(range.gte, 'gte'), lt: bound(range.lt, 'lt') };
}

/** A GraphQL `TicketFilter` as the reader's filter; BAD_INPUT naming the field at fault. */
export function toTicketFilter(input: TicketFilterInput | null | undefined): TicketFilter {
  if (!input) return {};
  const staffId = filterUserId(input.staffId, 'filter.staffId');
  if (staffId !== undefined && input.unassigned === true) {
    throw badInput('filter.unassigned', 'filter.unassigned: true cannot be combined with filter.staffId');
  }
  const search = input.search == null ? [] : parseSearch(input.search, 'filter.search');
  return {
    as: input.as ?? undefined,
    statuses: input.status ?? undefined,
    staffId,
    unassigned: input.unassigned ?? undefined,
    customerId: filterUserId(input.customerId, 'filter.customerId'),
    createdAt: timeRange(input.createdAt, 'filter.createdAt'),
    updatedAt: timeRange(input.updatedAt, 'filter.updatedAt'),
    search: search.length ? search : undefined,
  };
}

/** Which nested collections a selection under `path` asks for. */
function includeFor(info: GraphQLResolveInfo, path: readonly string[] = []): TicketInclude {
  const fields = selectedFields(info, path);
  return { replies: fields.has('replies'), history: fields.has('history') };
}

@Resolver(() => TicketType)
export class TicketResolver {
  @Query(() => TicketType, {
    nullable: true,
    description: 'One ticket. FORBIDDEN if the viewer may not see it, NOT_FOUND if there is none.',
  })
  async ticket(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext, @Info() info: GraphQLResolveInfo): Promise<TicketView> {
    const viewer = await ctx.viewer();
    const ticket = await ctx.services.reader.findById(ctx.em, parseUuid(id, 'id'), includeFor(info));
    if (!ticket) throw notFound('Ticket not found');
    if (!canView(viewer, ticket)) throw forbidden(MESSAGES.view);
    return ticket;
  }

  @Query(() => TicketConnectionType, {
    description:
      'The tickets the viewer may see that match the filter, newest first unless orderBy says otherwise. A Relay ' +
      'connection: first/after pages forwards, last/before backwards; cursors hold their place while tickets change.',
  })
  async tickets(
    @Ctx() ctx: RequestContext,
    @Info() info: GraphQLResolveInfo,
    // type-graphql prints arguments in reverse parameter order: this prints (filter, orderBy, first, after, last, before).
    @Arg('before', () => String, { nullable: true, description: 'startCursor of the page after the one wanted (with last).' })
    before?: string | null,
    @Arg('last', () => Int, { nullable: true, description: `Page size from the end, 1 to ${MAX_PAGE_SIZE}; not with first.` })
    last?: number | null,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after?: string | null,
    @Arg('first', () => Int, { nullable: true, description: `Page size, 1 to ${MAX_PAGE_SIZE}; default ${DEFAULT_PAGE_SIZE}.` })
    first?: number | null,
    @Arg('orderBy', () => TicketOrderInput, { nullable: true, description: 'Default: CREATED_AT DESC (newest first).' })
    orderBy?: TicketOrderInput | null,
    @Arg('filter', () => TicketFilterInput, { nullable: true }) filter?: TicketFilterInput | null,
  ): Promise<TicketConnectionType> {
    const viewer = await ctx.viewer();
    const forwardSize = pageSize(first, 'first', MAX_PAGE_SIZE);
    const backwardSize = pageSize(last, 'last', MAX_PAGE_SIZE);
    if (forwardSize !== undefined && backwardSize !== undefined) throw badInput('last', 'first and last cannot be combined: page one way');
    const fromEnd = backwardSize !== undefined;
    const limit = backwardSize ?? forwardSize ?? DEFAULT_PAGE_SIZE;
    const order = { field: orderBy?.field ?? NEWEST_FIRST.field, direction: orderBy?.direction ?? NEWEST_FIRST.direction };
    const query = toTicketFilter(filter);
    const page = await ctx.services.reader.list(ctx.em, viewer, {
      ...query,
      order,
      limit,
      fromEnd,
      after: after == null ? undefined : decodeTicketCursor(after, order, 'after'),
      before: before == null ? undefined : decodeTicketCursor(before, order, 'before'),
      include: includeFor(info, ['edges', 'node']),
    });
    return {
      ...pageOf(
        page.tickets,
        (node) => encodeTicketCursor(order, positionOf(node, order.field)),
        (node) => node as unknown as TicketType,
        // Relay: the direction not paged in may answer false; we do rather than spend a statement.
        { hasNextPage: !fromEnd && page.hasMore, hasPreviousPage: fromEnd && page.hasMore },
      ),
      query,
    };
  }

  @Query(() => TicketStatsType, {
    description:
      'How many tickets the viewer may see match the filter: in total, per status and (schedulers) per staff member. ' +
      'One statement; re-ask when ticketEvents reports a change to keep a dashboard current.',
  })
  async ticketStats(
    @Ctx() ctx: RequestContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('filter', () => TicketFilterInput, { nullable: true }) filter?: TicketFilterInput | null,
  ): Promise<TicketStatsView> {
    const viewer = await ctx.viewer();
    const query = toTicketFilter(filter);
    const asScheduler = query.as ? query.as === Role.SCHEDULER : hasRole(viewer, Role.SCHEDULER);
    const byStaff = asScheduler && selectedFields(info).has('byStaff');
    return ctx.services.reader.stats(ctx.em, viewer, query, { byStaff });
  }

  @Mutation(() => TicketType, { description: 'Files a ticket as the viewer (customers only).' })
  async createTicket(
    @Arg('input', () => CreateTicketInput) input: CreateTicketInput,
    @Ctx() ctx: RequestContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<TicketView> {
    const viewer = await ctx.viewer();
    const id = await ctx.services.tickets.create(
      ctx.em,
      viewer,
      {
        content: input.content,
        images: input.images ? parseImageRefs(input.images, 'images') : [],
      },
      { idempotencyKey: ctx.idempotencyKey },
    );
    return this.reload(ctx, id, info);
  }

  @Mutation(() => TicketType, { description: 'Edits content and images (the customer who filed it).' })
  async editTicket(
    @Arg('input', () => EditTicketInput) input: EditTicketInput,
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: RequestContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<TicketView> {
    const viewer = await ctx.viewer();
    await ctx.services.tickets.edit(ctx.em, viewer, id, {
      content: input.content ?? undefined,
      images: input.images ? parseImageRefs(input.images, 'images') : undefined,
    });
    return this.reload(ctx, id, info);
  }

  @Mutation(() => TicketType, { description: 'Assigns the ticket to a staff member (schedulers).' })
  async assignTicket(
    @Arg('staffId', () => ID) staffId: string,
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: RequestContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<TicketView> {
    return this.transition(ctx, info, id, TicketOperation.ASSIGN, parseUserId(staffId, 'staffId'));
  }

  @Mutation(() => TicketType, { description: 'The assigned staff member starts working on it.' })
  startProcessing(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext, @Info() info: GraphQLResolveInfo): Promise<TicketView> {
    return this.transition(ctx, info, id, TicketOperation.START_PROCESSING);
  }

  @Mutation(() => TicketType, { description: 'Asks the customer for more information.' })
  requestInformation(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext, @Info() info: GraphQLResolveInfo): Promise<TicketView> {
    return this.transition(ctx, info, id, TicketOperation.REQUEST_INFORMATION);
  }

  @Mutation(() => TicketType, { description: 'The assigned staff member marks it fixed.' })
  fixTicket(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext, @Info() info: GraphQLResolveInfo): Promise<TicketView> {
    return this.transition(ctx, info, id, TicketOperation.FIX);
  }

  @Mutation(() => TicketType, { description: 'A scheduler closes a fixed ticket.' })
  closeTicket(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext, @Info() info: GraphQLResolveInfo): Promise<TicketView> {
    return this.transition(ctx, info, id, TicketOperation.CLOSE);
  }

  @Mutation(() => TicketType, { description: 'The customer who filed it reopens it.' })
  reopenTicket(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext, @Info() info: GraphQLResolveInfo): Promise<TicketView> {
    return this.transition(ctx, info, id, TicketOperation.REOPEN);
  }

  @Mutation(() => TicketType, { description: 'The customer who filed it, or a scheduler, cancels it.' })
  cancelTicket(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext, @Info() info: GraphQLResolveInfo): Promise<TicketView> {
    return this.transition(ctx, info, id, TicketOperation.CANCEL);
  }

  @FieldResolver(() => [String], { description: 'Absolute image URLs, in order.' })
  images(@Root() ticket: TicketView, @Ctx() ctx: RequestContext): string[] {
    return ticket.imageIds.map((id) => imageUrl(ctx.publicUrl, id));
  }

  // The three resolvers below run once per ticket of a page: they stay synchronous whenever the
  // data is at hand, since a promise per ticket and field is measurable on a 50-ticket page.

  @FieldResolver(() => [ReplyType], { description: 'Oldest first.' })
  replies(@Root() ticket: TicketView, @Ctx() ctx: RequestContext): ReplyView[] | Promise<ReplyView[]> {
    return ticket.replies ?? this.complete(ctx, ticket).then((full) => full.replies ?? []);
  }

  @FieldResolver(() => [HistoryEntryType], { description: 'The operating history, oldest first; starts with NEW.' })
  history(@Root() ticket: TicketView, @Ctx() ctx: RequestContext): HistoryView[] | Promise<HistoryView[]> {
    return ticket.history ?? this.complete(ctx, ticket).then((full) => full.history ?? []);
  }

  @FieldResolver(() => TicketPermissionsType, { description: 'What the viewer may do to it now.' })
  permissions(@Root() ticket: TicketView, @Ctx() ctx: RequestContext): TicketPermissions | Promise<TicketPermissions> {
    const viewer = ctx.resolvedViewer?.();
    return viewer ? permissionsFor(viewer, ticket) : ctx.viewer().then((resolved) => permissionsFor(resolved, ticket));
  }

  private async transition(ctx: RequestContext, info: GraphQLResolveInfo, id: string, operation: TransitionOperation, staffId?: number): Promise<TicketView> {
    const viewer = await ctx.viewer();
    // The service answers with the ticket as written: no read after the commit.
    return ctx.services.tickets.transition(ctx.em, viewer, id, operation, { staffId, include: includeFor(info) });
  }

  /** The ticket as it is after a mutation, with what the selection asks for. */
  private async reload(ctx: RequestContext, id: string, info: GraphQLResolveInfo): Promise<TicketView> {
    const ticket = await ctx.services.reader.findById(ctx.em, id.toLowerCase(), includeFor(info));
    if (!ticket) throw notFound('Ticket not found');
    return ticket;
  }

  /**
   * A view read without its nested collections (a parent that did not know the selection, such
   * as a subscription payload) gets them here, once per ticket.
   */
  private async complete(ctx: RequestContext, ticket: TicketView): Promise<TicketView> {
    return (await ctx.services.reader.findById(ctx.em, ticket.id, INCLUDE_ALL)) ?? ticket;
  }
}

@Resolver(() => TicketConnectionType)
export class TicketConnectionResolver {
  @FieldResolver(() => Int, { description: 'How many tickets match, across all pages.' })
  async totalCount(@Root() connection: TicketConnectionType, @Ctx() ctx: RequestContext): Promise<number> {
    return ctx.services.reader.count(ctx.em, await ctx.viewer(), connection.query);
  }
}
