import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../../graphql/context';
import { CreateUserInput, UserType } from './user.type';

@Resolver(() => UserType)
export class UserResolver {
  @Query(() => UserType, { description: 'The viewer, with their roles.' })
  async me(@Ctx() ctx: RequestContext): Promise<UserType> {
    const viewer = await ctx.viewer();
    return { id: viewer.id, username: viewer.username, roles: [...viewer.roles] };
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
    return { id: user.id, username: user.username, roles: user.roles };
  }
}
