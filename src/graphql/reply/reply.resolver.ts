import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import type { RequestContext } from '../context';
import { parseUuid } from '../../shared/ids';
import type { ReplyView } from '../../modules/ticket/ticket.query';
import { ReplyType } from './reply.type';

@Resolver(() => ReplyType)
export class ReplyResolver {
  @Mutation(() => ReplyType, { description: 'Replies to a ticket as the viewer.' })
  async addReply(@Arg('content', () => String) content: string, @Arg('ticketId', () => ID) ticketId: string, @Ctx() ctx: RequestContext): Promise<ReplyView> {
    const viewer = await ctx.viewer();
    const reply = await ctx.services.replies.add(ctx.em, viewer, ticketId, content);
    return {
      ...reply,
      author: { id: viewer.id, username: viewer.username, roles: [...viewer.roles] },
    };
  }

  @Mutation(() => ID, { description: "Deletes one of the viewer's replies; returns its id." })
  async deleteReply(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<string> {
    const viewer = await ctx.viewer();
    // Parsed here so a malformed id names this argument (`id`), not the service's `replyId`.
    const replyId = parseUuid(id, 'id');
    await ctx.services.replies.delete(ctx.em, viewer, replyId);
    return replyId;
  }
}
