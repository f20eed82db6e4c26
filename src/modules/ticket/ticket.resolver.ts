import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, FieldResolver, ID, Info, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../../graphql/context';
import { selectedFields } from '../../graphql/selection';
import { badInput, forbidden, notFound } from '../../shared/errors';
import { parseUserId, parseUuid } from '../../shared/ids';
import { imageUrl, parseImageRefs } from '../image/image-ref';
import { ReplyType } from '../reply/reply.type';
import { INCLUDE_ALL } from './ticket.query';
import type { HistoryView, ReplyView, TicketInclude, TicketView } from './ticket.query';
import { canView, MESSAGES, permissionsFor, TicketOperation } from './ticket.rules';
import type { TicketPermissions } from './ticket.rules';
import type { TransitionOperation } from './ticket.service';
import {
  CreateTicketInput,
  EditTicketInput,
  HistoryEntryType,
  TicketConnectionType,
  TicketFilterInput,
  TicketPermissionsType,
  TicketType,
} from './ticket.type';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

const CURSOR_PREFIX = 'ticket:';

/** Opaque cursors: base64url of `ticket:<id>`, so clients don't build them. */
export const encodeCursor = (ticketId: string): string => Buffer.from(CURSOR_PREFIX + ticketId).toString('base64url');

export function decodeCursor(cursor: string, field: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!decoded.startsWith(CURSOR_PREFIX)) throw badInput(field, `${field} is not a cursor this API returned`);
  return parseUuid(decoded.slice(CURSOR_PREFIX.length), field);
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

  @Query(() => TicketConnectionType, { description: 'The tickets the viewer may see, newest first.' })
  async tickets(
    @Ctx() ctx: RequestContext,
    @Info() info: GraphQLResolveInfo,
    // type-graphql prints arguments in reverse parameter order: this prints (filter, first, after).
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after?: string | null,
    @Arg('first', () => Int, { nullable: true, description: `Page size, 1 to ${MAX_PAGE_SIZE}; default ${DEFAULT_PAGE_SIZE}.` })
    first?: number | null,
    @Arg('filter', () => TicketFilterInput, { nullable: true }) filter?: TicketFilterInput | null,
  ): Promise<TicketConnectionType> {
    const viewer = await ctx.viewer();
    const limit = first ?? DEFAULT_PAGE_SIZE;
    if (limit < 1 || limit > MAX_PAGE_SIZE) throw badInput('first', `first must be between 1 and ${MAX_PAGE_SIZE}`);
    const query = { as: filter?.as ?? undefined, statuses: filter?.status ?? undefined };
    const page = await ctx.services.reader.list(ctx.em, viewer, {
      ...query,
      limit,
      before: after ? decodeCursor(after, 'after') : undefined,
      include: includeFor(info, ['edges', 'node']),
    });
    const edges = page.tickets.map((node) => ({ cursor: encodeCursor(node.id), node: node as unknown as TicketType }));
    return {
      edges,
      pageInfo: { hasNextPage: page.hasMore, endCursor: edges.at(-1)?.cursor ?? null },
      query,
    };
  }

  @Mutation(() => TicketType, { description: 'Files a ticket as the viewer (customers only).' })
  async createTicket(
    @Arg('input', () => CreateTicketInput) input: CreateTicketInput,
    @Ctx() ctx: RequestContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<TicketView> {
    const viewer = await ctx.viewer();
    const id = await ctx.services.tickets.create(ctx.em, viewer, {
      content: input.content,
      images: input.images ? parseImageRefs(input.images, 'images') : [],
    }, { idempotencyKey: ctx.idempotencyKey });
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

  private async transition(
    ctx: RequestContext,
    info: GraphQLResolveInfo,
    id: string,
    operation: TransitionOperation,
    staffId?: number,
  ): Promise<TicketView> {
    const viewer = await ctx.viewer();
    await ctx.services.tickets.transition(ctx.em, viewer, id, operation, { staffId });
    return this.reload(ctx, id, info);
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
