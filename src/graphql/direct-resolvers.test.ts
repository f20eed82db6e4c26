import 'reflect-metadata';
import { graphql, type GraphQLObjectType, type GraphQLSchema } from 'graphql';
import { Arg, Authorized, buildSchema, Ctx, Field, FieldResolver, ObjectType, Query, Resolver, Root, UseMiddleware } from 'type-graphql';
import { callFieldResolversDirectly } from './direct-resolvers';

/**
 * Field resolvers called without type-graphql's per-call wrapper answer what the wrapper answered,
 * on the same `this`, and the wrapper is refused for methods it would have added something to.
 */
@ObjectType()
class Box {
  @Field() name!: string;
}

interface Context {
  readonly suffix: string;
}

@Resolver(() => Box)
class BoxResolver {
  private readonly prefix = 'box:';

  @Query(() => [Box])
  boxes(): Box[] {
    return [{ name: 'a' }, { name: 'b' }];
  }

  @FieldResolver(() => String)
  label(@Root() box: Box, @Ctx() ctx: Context): string {
    return `${this.prefix}${box.name}${ctx.suffix}`;
  }

  @FieldResolver(() => String)
  failing(@Root() box: Box): string {
    throw new Error(`no ${box.name}`);
  }

  @FieldResolver(() => String)
  withArg(@Root() box: Box, @Arg('n') n: number): string {
    return `${box.name}${n}`;
  }

  @FieldResolver(() => String)
  @UseMiddleware((_data, next) => next())
  guarded(@Root() box: Box, @Ctx() _ctx: Context): string {
    return box.name;
  }

  @FieldResolver(() => String)
  @Authorized()
  secret(@Root() box: Box, @Ctx() _ctx: Context): string {
    return box.name;
  }
}

describe('callFieldResolversDirectly', () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await buildSchema({ resolvers: [BoxResolver], validate: false, authChecker: () => true });
  });

  const ask = (source: string) => graphql({ schema, source, contextValue: { suffix: '!' } });

  it('answers as type-graphql did, on an instance of the resolver class', async () => {
    const wrapped = await ask('{ boxes { name label } }');
    callFieldResolversDirectly(schema, BoxResolver, 'Box', ['label']);
    const direct = await ask('{ boxes { name label } }');
    expect(direct).toEqual({
      data: {
        boxes: [
          { name: 'a', label: 'box:a!' },
          { name: 'b', label: 'box:b!' },
        ],
      },
    });
    expect(direct).toEqual(wrapped);
  });

  it('does not sort the parameter list on every call, as type-graphql did', async () => {
    const label = (schema.getType('Box') as GraphQLObjectType).getFields().label!;
    const sort = jest.spyOn(Array.prototype, 'sort');
    try {
      expect(label.resolve!({ name: 'c' }, {}, { suffix: '?' }, undefined as never)).toBe('box:c?');
      expect(sort).not.toHaveBeenCalled();
    } finally {
      sort.mockRestore();
    }
  });

  it('refuses what the direct call would skip or not pass', () => {
    expect(() => callFieldResolversDirectly(schema, BoxResolver, 'Box', ['failing'])).toThrow(/must take \(@Root\(\), @Ctx\(\)\) only/);
    expect(() => callFieldResolversDirectly(schema, BoxResolver, 'Box', ['withArg'])).toThrow(/must take/);
    expect(() => callFieldResolversDirectly(schema, BoxResolver, 'Box', ['guarded'])).toThrow(/without middlewares or roles/);
    expect(() => callFieldResolversDirectly(schema, BoxResolver, 'Box', ['secret'])).toThrow(/without middlewares or roles/);
    expect(() => callFieldResolversDirectly(schema, BoxResolver, 'Box', ['boxes'])).toThrow(/is not a field resolver of Box/);
    expect(() => callFieldResolversDirectly(schema, BoxResolver, 'Nothing', ['label'])).toThrow(/is not an object type/);
  });
});
