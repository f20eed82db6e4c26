import { GraphQLDateTime } from 'graphql-scalars';
import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { pageOf, pageSize } from '../paging';
import type { RequestContext } from '../context';
import { badInput, notFound } from '../../shared/errors';
import { parseUserId } from '../../shared/ids';
import type { AuditEntry } from '../../modules/user/user-audit';
import {
  canBrowseDirectory,
  canSeeDetailsOf,
  decodeUserCursor,
  encodeUserCursor,
  userFacts,
  type DirectoryUser,
  type UserFilter,
} from '../../modules/user/user-directory';
import { UserAuditEntryType, UserConnectionType } from './user-directory.type';
import { MAX_AUDIT_PAGE } from '../../modules/user/user-lifecycle.service';
import { CreateUserInput, UpdateUserInput, UserFilterInput, UserType } from './user.type';

export const DEFAULT_USER_PAGE_SIZE = 50;
export const MAX_USER_PAGE_SIZE = 200;

/** The GraphQL shape of a directory user (`isAdmin`, `active`, `createdAt` travel with it). */
const toUserType = (user: DirectoryUser): UserType => ({ ...user, roles: [...user.roles] });

@Resolver(() => UserType)
export class UserResolver {
  @Query(() => UserType, { description: 'The viewer, with their roles.' })
  async me(@Ctx() ctx: RequestContext): Promise<UserType> {
    const viewer = await ctx.viewer();
    return { id: viewer.id, username: viewer.username, roles: [...viewer.roles], isAdmin: viewer.isAdmin, active: true };
  }

  @Query(() => UserConnectionType, {
    description: 'The user directory, in username order: schedulers and administrators only (everyone else has `me`).',
  })
  async users(
    @Ctx() ctx: RequestContext,
    // type-graphql prints arguments in reverse parameter order: this prints (filter, first, after).
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after?: string | null,
    @Arg('first', () => Int, { nullable: true, description: `Page size, 1 to ${MAX_USER_PAGE_SIZE}; default ${DEFAULT_USER_PAGE_SIZE}.` })
    first?: number | null,
    @Arg('filter', () => UserFilterInput, { nullable: true }) filter?: UserFilterInput | null,
  ): Promise<UserConnectionType> {
    const viewer = await ctx.viewer();
    const limit = pageSize(first, 'first', MAX_USER_PAGE_SIZE) ?? DEFAULT_USER_PAGE_SIZE;
    const query: UserFilter = { roles: filter?.roles ?? undefined, search: filter?.search ?? undefined, active: filter?.active ?? undefined };
    const page = await ctx.services.directory.list(ctx.em, viewer, query, { limit, after: after ? decodeUserCursor(after, 'after') : undefined });
    // Forward paging only: Relay lets hasPreviousPage be false when paging with first/after.
    return { ...pageOf(page.users, (user) => encodeUserCursor(user.username), toUserType, { hasNextPage: page.hasMore }), filter: query };
  }

  @Query(() => UserType, {
    description: 'One user: anyone for schedulers and administrators, only yourself for everyone else (FORBIDDEN). NOT_FOUND if none.',
  })
  async user(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<UserType> {
    const viewer = await ctx.viewer();
    return toUserType(await ctx.services.directory.find(ctx.em, viewer, parseUserId(id, 'id')));
  }

  @Query(() => [UserAuditEntryType], { description: "A user's audit trail, newest first. Administrators only." })
  async userAudit(
    @Ctx() ctx: RequestContext,
    @Arg('before', () => ID, { nullable: true, description: 'Entries older than this entry id (the last one of the previous page).' })
    before?: string | null,
    @Arg('first', () => Int, { nullable: true, description: `Entries, 1 to ${MAX_AUDIT_PAGE}; default 50.` }) first?: number | null,
    @Arg('userId', () => ID) userId?: string,
  ): Promise<AuditEntry[]> {
    const viewer = await ctx.viewer();
    const limit = pageSize(first, 'first', MAX_AUDIT_PAGE) ?? 50;
    let beforeId: number | undefined;
    if (before != null) {
      if (!/^[1-9][0-9]{0,15}$/.test(before)) throw badInput('before', 'before must be an audit entry id');
      beforeId = Number(before);
    }
    return ctx.services.lifecycle.audit(ctx.em, viewer, parseUserId(userId, 'userId'), { limit, before: beforeId });
  }

  @Mutation(() => UserType, { description: 'Creates a user. Administrators only.' })
  async createUser(@Arg('input', () => CreateUserInput) input: CreateUserInput, @Ctx() ctx: RequestContext): Promise<UserType> {
    const viewer = await ctx.viewer();
    const user = await ctx.services.users.create(ctx.em, viewer, {
      username: input.username,
      password: input.password,
      roles: input.roles,
      isAdmin: input.admin ?? false,
    });
    return { id: user.id, username: user.username, roles: user.roles, isAdmin: user.isAdmin, active: user.active, createdAt: user.createdAt.getTime() };
  }

  @Mutation(() => UserType, {
    description:
      'Changes roles, the admin flag or `active` (administrators only), effective at once on every server process and open socket. ' +
      'The last active administrator cannot give up the admin flag or be deactivated (CONFLICT).',
  })
  async updateUser(
    @Arg('input', () => UpdateUserInput) input: UpdateUserInput,
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: RequestContext,
  ): Promise<UserType> {
    const viewer = await ctx.viewer();
    return toUserType(await ctx.services.lifecycle.update(ctx.em, viewer, parseUserId(id, 'id'), input));
  }

  @Mutation(() => Boolean, {
    description: 'Changes your own password (same rules as createUser). Your other sessions end; this one goes on.',
  })
  async changePassword(@Arg('newPassword') newPassword: string, @Arg('currentPassword') currentPassword: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    const viewer = await ctx.viewer();
    await ctx.services.lifecycle.changePassword(ctx.em, viewer, {
      currentPassword,
      newPassword,
      currentSessionId: ctx.sessionId?.(),
      clientAddress: ctx.clientAddress ?? 'unknown',
    });
    return true;
  }

  @Mutation(() => Boolean, { description: "Sets a user's password; every session of theirs ends. Administrators only." })
  async resetPassword(@Arg('newPassword') newPassword: string, @Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    const viewer = await ctx.viewer();
    await ctx.services.lifecycle.resetPassword(ctx.em, viewer, parseUserId(id, 'id'), newPassword);
    return true;
  }

  @FieldResolver(() => Boolean, { description: 'False once an administrator has deactivated the account.' })
  async active(@Root() user: UserType, @Ctx() ctx: RequestContext): Promise<boolean> {
    if (user.active !== undefined) return user.active;
    return (await userFacts(ctx.em, ctx.services.directory).user(Number(user.id)))?.active ?? false;
  }

  @FieldResolver(() => Boolean, { nullable: true, description: 'Whether the user manages users. Yourself, schedulers and administrators; null for others.' })
  async admin(@Root() user: UserType, @Ctx() ctx: RequestContext): Promise<boolean | null> {
    if (!canSeeDetailsOf(await ctx.viewer(), Number(user.id))) return null;
    if (user.isAdmin !== undefined) return user.isAdmin;
    return (await userFacts(ctx.em, ctx.services.directory).user(Number(user.id)))?.isAdmin ?? null;
  }

  @FieldResolver(() => GraphQLDateTime, { nullable: true, description: 'Yourself, schedulers and administrators; null for others.' })
  async createdAt(@Root() user: UserType, @Ctx() ctx: RequestContext): Promise<number | null> {
    if (!canSeeDetailsOf(await ctx.viewer(), Number(user.id))) return null;
    if (user.createdAt !== undefined) return user.createdAt;
    return (await userFacts(ctx.em, ctx.services.directory).user(Number(user.id)))?.createdAt ?? null;
  }

  @FieldResolver(() => Int, {
    nullable: true,
    description:
      'Open tickets (ASSIGNED, IN_PROCESSING, REQUEST_INFORMATION) assigned to this user: their load. ' +
      'Schedulers and administrators only; null for others.',
  })
  async openTicketCount(@Root() user: UserType, @Ctx() ctx: RequestContext): Promise<number | null> {
    if (!canBrowseDirectory(await ctx.viewer())) return null;
    return userFacts(ctx.em, ctx.services.directory).openAssigned(Number(user.id));
  }
}

@Resolver(() => UserConnectionType)
export class UserConnectionResolver {
  @FieldResolver(() => Int, { description: 'Users matching the filter, all pages together.' })
  async totalCount(@Root() connection: UserConnectionType, @Ctx() ctx: RequestContext): Promise<number> {
    return ctx.services.directory.count(ctx.em, await ctx.viewer(), connection.filter);
  }
}

@Resolver(() => UserAuditEntryType)
export class UserAuditEntryResolver {
  @FieldResolver(() => UserType, { nullable: true, description: 'Who made the change; null for the server itself (the bootstrap administrator).' })
  async actor(@Root() entry: AuditEntry, @Ctx() ctx: RequestContext): Promise<UserType | null> {
    if (entry.actorId === null) return null;
    const user = await userFacts(ctx.em, ctx.services.directory).user(entry.actorId);
    return user ? toUserType(user) : null;
  }

  @FieldResolver(() => UserType, { description: 'The user the change is about.' })
  async user(@Root() entry: AuditEntry, @Ctx() ctx: RequestContext): Promise<UserType> {
    const user = await userFacts(ctx.em, ctx.services.directory).user(entry.userId);
    if (!user) throw notFound('User not found');
    return toUserType(user);
  }
}
