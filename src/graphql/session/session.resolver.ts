import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../context';
import { badInput } from '../../shared/errors';
import { parseUserId, parseUuid } from '../../shared/ids';
import { idleExpiry } from '../../modules/session/session-token';
import { ActiveSessionType, SessionType } from './session.type';

@Resolver(() => SessionType)
export class SessionResolver {
  @Mutation(() => SessionType, {
    description:
      'Signs in with a username and password (no credential needed; failures are throttled like credentials) and returns a token. ' +
      'UNAUTHENTICATED for a wrong username or password or a deactivated account.',
  })
  async login(@Arg('password') password: string, @Arg('username') username: string, @Ctx() ctx: RequestContext): Promise<SessionType> {
    const { token, session, viewer } = await ctx.services.sessions.login(ctx.em, {
      username,
      password,
      clientAddress: ctx.clientAddress ?? 'unknown',
      userAgent: ctx.userAgent,
    });
    ctx.signedIn?.({ viewer, sessionId: session.id, expiresAt: session.expiresAt });
    return {
      id: session.id,
      token,
      expiresAt: session.expiresAt,
      idleTimeoutSeconds: Math.floor(ctx.services.sessions.settings.idleTimeoutMs / 1000),
      user: { id: viewer.id, username: viewer.username, roles: [...viewer.roles], isAdmin: viewer.isAdmin, active: true },
    };
  }

  @Mutation(() => Boolean, { description: 'Ends the session this request came with (a Bearer token; BAD_USER_INPUT for a credential).' })
  async logout(@Ctx() ctx: RequestContext): Promise<boolean> {
    const viewer = await ctx.viewer();
    const sessionId = ctx.sessionId?.();
    if (!sessionId) throw badInput('authorization', 'logout ends a sign-in token session; this request carries a credential');
    await ctx.services.sessions.revoke(ctx.em, viewer, sessionId);
    return true;
  }

  @Query(() => [ActiveSessionType], {
    description: "Your live sessions, most recently used first; an administrator may name another user's id.",
  })
  async sessions(@Ctx() ctx: RequestContext, @Arg('userId', () => ID, { nullable: true }) userId?: string | null): Promise<ActiveSessionType[]> {
    const viewer = await ctx.viewer();
    const current = ctx.sessionId?.();
    const records = await ctx.services.sessions.list(ctx.em, viewer, userId == null ? viewer.id : parseUserId(userId, 'userId'));
    const idle = ctx.services.sessions.settings.idleTimeoutMs;
    return records.map((record) => ({
      id: record.id,
      createdAt: record.createdAt,
      lastUsedAt: record.lastUsedAt,
      idleExpiresAt: idleExpiry(record, idle),
      expiresAt: record.expiresAt,
      current: record.id === current,
      userAgent: record.userAgent,
    }));
  }

  @Mutation(() => ID, {
    description:
      "Ends a session: your own, or anyone's for an administrator. Its token is refused at once on every server process and its sockets close (4403).",
  })
  async revokeSession(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<string> {
    const viewer = await ctx.viewer();
    const sessionId = parseUuid(id, 'id');
    await ctx.services.sessions.revoke(ctx.em, viewer, sessionId);
    return sessionId;
  }
}
