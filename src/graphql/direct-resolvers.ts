import { GraphQLObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { getMetadataStorage } from 'type-graphql';

/**
 * Field resolvers that run once per object of a page (a list page calls `Ticket.images`,
 * `replies`, `history` and `permissions` once per ticket, 200 calls) are called without
 * type-graphql's per-call wrapper: for each call it built a resolver-data object, looked the
 * resolver instance up in its container, sorted the method's parameter list (`Array#sort`, about
 * 800 bytes of garbage each time) and mapped it to a fresh array of arguments. In one process
 * those allocations were an eighth of what graphql-jit's execution of the list page allocated
 * (docs/performance.md, fifth round).
 *
 * The wrapper adds nothing to these fields in this schema: `buildGraphQLSchema` passes no global
 * middlewares, no auth checker and no validation, and this refuses, when the schema is built, a
 * method that has middlewares (`@UseMiddleware`), roles (`@Authorized`) or parameters other than
 * `@Root()` (the parent object, as it is) followed by `@Ctx()` (the request's context), the only
 * ones the direct call passes. The method runs on an instance of its own class, made here once:
 * the resolver classes named this way keep no state.
 */
export function callFieldResolversDirectly(schema: GraphQLSchema, resolverClass: new () => object, typeName: string, methods: readonly string[]): void {
  const type = schema.getType(typeName);
  if (!(type instanceof GraphQLObjectType)) throw new Error(`${typeName} is not an object type of the schema`);
  const fields = type.getFields();
  const instance = new resolverClass() as Record<string, unknown>;
  for (const methodName of methods) {
    const metadata = getMetadataStorage().fieldResolvers.find((entry) => entry.target === resolverClass && entry.methodName === methodName);
    const field = metadata ? fields[metadata.schemaName] : undefined;
    if (!metadata || !field?.resolve) throw new Error(`${resolverClass.name}.${methodName} is not a field resolver of ${typeName}`);
    const params = [...(metadata.params ?? [])].sort((a, b) => a.index - b.index);
    const plain =
      params.length === 2 &&
      params[0]!.kind === 'root' &&
      !params[0]!.propertyName &&
      params[1]!.kind === 'context' &&
      !params[1]!.propertyName &&
      !metadata.middlewares?.length &&
      !metadata.roles;
    if (!plain) throw new Error(`${resolverClass.name}.${methodName} must take (@Root(), @Ctx()) only, without middlewares or roles, to be called directly`);
    const method = instance[methodName] as (source: unknown, context: unknown) => unknown;
    const resolve: GraphQLFieldResolver<unknown, unknown> = (source, _args, context) => method.call(instance, source, context);
    field.resolve = resolve;
  }
}
