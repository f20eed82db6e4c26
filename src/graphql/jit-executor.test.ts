import 'reflect-metadata';
import { buildSchema, parse, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import type { GatewayExecutor } from '@apollo/server-gateway-interface';
import { jitCoercesVariablesOf, jitGateway } from './jit-executor';
import { buildGraphQLSchema } from './schema';
import { LIST_PAGE, DETAIL } from '../../bench/queries';

/**
 * Input-object defaults reach resolvers through the compiled executor exactly as graphql-js gives
 * them, whether the input comes in a variable or a literal. graphql-jit 0.8.9 leaves an omitted
 * non-null field with a default unfilled (an error, answered INTERNAL_SERVER_ERROR); such
 * documents run on graphql-js, and every other one stays compiled.
 */
const SDL = `
  enum Direction { ASC DESC }
  input Order { field: String! = "createdAt", direction: Direction! = DESC, limit: Int = 5 }
  input Loose { field: String = "createdAt", direction: Direction = DESC }
  input Wrap { orders: [Order!]!, note: String }
  input Deep { wrap: Wrap }
  type Query {
    order(order: Order): String
    loose(loose: Loose): String
    wrap(wrap: Wrap!): String
    deep(deep: Deep): String
    plain(n: Int, s: String!): String
  }`;

function testSchema(): GraphQLSchema {
  const schema = buildSchema(SDL);
  for (const field of Object.values(schema.getQueryType()!.getFields())) field.resolve = (_root, args) => JSON.stringify(args);
  return schema;
}

const operationOf = (source: string): OperationDefinitionNode => parse(source).definitions[0] as OperationDefinitionNode;

describe('jit executor: input defaults', () => {
  const schema = testSchema();
  let executor: GatewayExecutor;
  beforeAll(async () => {
    executor = (await jitGateway(schema).load({ apollo: {} as never })).executor!;
  });
  const run = async (source: string, variables?: Record<string, unknown>) => {
    const document = parse(source);
    const operation = document.definitions[0] as OperationDefinitionNode;
    return executor({ document, operation, context: {}, request: { query: source, variables } } as never);
  };
  const ORDER_DEFAULTS = { field: 'createdAt', direction: 'DESC', limit: 5 };

  it.each<[string, string, Record<string, unknown> | undefined, Record<string, unknown>]>([
    ['an empty Order variable', 'query($o: Order) { order(order: $o) }', { o: {} }, { order: ORDER_DEFAULTS }],
    [
      'an Order variable naming some fields',
      'query($o: Order) { order(order: $o) }',
      { o: { direction: 'ASC', limit: null } },
      { order: { ...ORDER_DEFAULTS, direction: 'ASC', limit: null } },
    ],
    ['an Order literal', 'query { order(order: {}) }', undefined, { order: ORDER_DEFAULTS }],
    [
      'an Order literal holding a variable',
      'query($d: Direction!) { order(order: { direction: $d }) }',
      { d: 'ASC' },
      { order: { ...ORDER_DEFAULTS, direction: 'ASC' } },
    ],
    [
      'a Wrap variable with a list of Orders',
      'query($w: Wrap!) { wrap(wrap: $w) }',
      { w: { orders: [{}, { field: 'status' }] } },
      { wrap: { orders: [ORDER_DEFAULTS, { ...ORDER_DEFAULTS, field: 'status' }] } },
    ],
    [
      'a Deep variable reaching Order through two levels',
      'query($d: Deep) { deep(deep: $d) }',
      { d: { wrap: { orders: [{}] } } },
      { deep: { wrap: { orders: [ORDER_DEFAULTS] } } },
    ],
    [
      'a Loose variable (nullable fields with defaults)',
      'query($l: Loose) { loose(loose: $l) }',
      { l: {} },
      { loose: { field: 'createdAt', direction: 'DESC' } },
    ],
    ['a Loose variable with an explicit null', 'query($l: Loose) { loose(loose: $l) }', { l: { field: null } }, { loose: { field: null, direction: 'DESC' } }],
    ['scalar variables', 'query($n: Int, $s: String!) { plain(n: $n, s: $s) }', { n: 3, s: 'x' }, { n: 3, s: 'x' }],
  ])('%s: the resolver gets the arguments graphql-js gives', async (_name, source, variables, expected) => {
    const result = await run(source, variables);
    expect(result.errors).toBeUndefined();
    const [json] = Object.values(result.data as Record<string, string>);
    expect(JSON.parse(json!)).toEqual(expected);
  });

  it('a variable missing a required field without a default is still refused, naming it', async () => {
    const result = await run('query($w: Wrap!) { wrap(wrap: $w) }', { w: { note: 'x' } });
    expect(result.data).toBeUndefined();
    expect(result.errors?.[0]?.message).toMatch(/Field "orders" of required type "\[Order!\]!" was not provided/);
  });

  it('only documents whose variables reach a non-null field with a default leave the compiled path', () => {
    const compiled = (source: string) => jitCoercesVariablesOf(schema, operationOf(source));
    expect(compiled('query { order(order: {}) }')).toBe(true);
    expect(compiled('query($n: Int, $s: String!) { plain(n: $n, s: $s) }')).toBe(true);
    expect(compiled('query($l: Loose) { loose(loose: $l) }')).toBe(true);
    expect(compiled('query($d: Direction!) { order(order: { direction: $d }) }')).toBe(true);
    expect(compiled('query($o: Order) { order(order: $o) }')).toBe(false);
    expect(compiled('query($w: [Wrap!]) { plain(s: "x") }')).toBe(false);
    expect(compiled('query($d: Deep) { deep(deep: $d) }')).toBe(false);
  });

  it("the application's list page, detail and filtered, ordered ticket queries stay compiled", async () => {
    const app = await buildGraphQLSchema();
    for (const source of [
      LIST_PAGE,
      DETAIL,
      'query($f: TicketFilter, $o: TicketOrder, $n: Int) { tickets(first: $n, filter: $f, orderBy: $o) { totalCount } }',
    ]) {
      expect(jitCoercesVariablesOf(app, operationOf(source))).toBe(true);
    }
  });
});
