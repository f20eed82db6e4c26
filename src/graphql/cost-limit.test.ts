import { getIntrospectionQuery, Kind, parse, validate, type FragmentDefinitionNode, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { LIST_PAGE } from '../../bench/queries';
import { costLimitRule, operationCost } from './cost-limit';
import { COST_OPTIONS, GRAPHQL_LIMITS } from './query-limits';
import { buildGraphQLSchema } from './schema';

/** The figures docs/hardening.md quotes, and how a connection's page size drives its cost. */

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildGraphQLSchema();
});

/** Cost of the first operation of `text`. */
function cost(text: string): number {
  const document = parse(text);
  const fragments = new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  return operationCost(schema, operation, (name) => fragments.get(name), COST_OPTIONS);
}

const NODE = `id status content images createdAt
  customer { id username } staff { id username }
  replies { id content author { username } createdAt }
  history { status actor { username } at }
  permissions { reply edit assign startProcessing requestInformation fix close reopen cancel }`;
const page = (first: string) => `query($n: Int) { tickets${first} { totalCount pageInfo { hasNextPage endCursor } edges { node { ${NODE} } } } }`;

it('charges a page in proportion to its size: 1 + 132 per ticket, plus the connection', () => {
  // node: 5 scalars + 2 users × 3 + replies 10 × 6 + history 10 × 5 + permissions 10 + itself 1 = 132; edge 1.
  expect(cost(page('(first: 1)'))).toBe(5 + 133);
  expect(cost(page('(first: 10)'))).toBe(5 + 1330);
  expect(cost(page('(first: 100)'))).toBe(5 + 13300);
  expect(cost(page(''))).toBe(5 + 20 * 133);
  // A variable may be anything up to 100: validation runs before variables are known.
  expect(cost(page('(first: $n)'))).toBe(cost(page('(first: 100)')));
  // What the resolver refuses is not charged beyond its largest page.
  expect(cost(page('(first: 100000)'))).toBe(cost(page('(first: 100)')));
});

it('prices the queries docs/hardening.md names', () => {
  expect(cost(page('(first: 100)'))).toBe(13_305);
  expect(cost(LIST_PAGE)).toBe(9_554);
  expect(cost(LIST_PAGE.replace('first: 50', 'first: 100'))).toBe(19_104);
  expect(cost(getIntrospectionQuery())).toBe(50_890);
  const benchPages = (count: number) => {
    const body = LIST_PAGE.replace('first: 50', 'first: 100')
      .replace(/^query ListPage \{/, '')
      .replace(/\}\s*$/, '');
    return `{ ${Array.from({ length: count }, (_, i) => `p${i}: ${body.trim()}`).join(' ')} }`;
  };
  expect(cost(benchPages(3))).toBe(3 * 19_104);
  expect(cost(benchPages(3))).toBeLessThanOrEqual(GRAPHQL_LIMITS.maxCost);
  expect(cost(benchPages(4))).toBe(4 * 19_104);
  expect(cost(benchPages(4))).toBeGreaterThan(GRAPHQL_LIMITS.maxCost);
  expect(cost(getIntrospectionQuery())).toBeLessThan(GRAPHQL_LIMITS.maxCost);
});

it('charges a fragment where it is spread, once per spread, and survives a cycle', () => {
  const spread = cost(`{ tickets(first: 7) { edges { node { ...T } } } } fragment T on Ticket { ${NODE} }`);
  expect(spread).toBe(cost(`{ tickets(first: 7) { edges { node { ${NODE} } } } }`));
  const inline = cost(`{ tickets(first: 7) { edges { node { ... on Ticket { ${NODE} } } } } }`);
  expect(inline).toBe(spread);
  // A fragment that spreads itself is refused by another rule; counting it must still end.
  expect(cost('{ ...A } fragment A on Query { me { id } ...A }')).toBe(2);
});

it('grows exponentially with nested fragment fan-out without taking exponential time', () => {
  const levels = 40;
  const fragments = Array.from({ length: levels }, (_, i) => `fragment F${i} on Query { me { id } ${i + 1 < levels ? `...F${i + 1} ...F${i + 1}` : ''} }`);
  const started = Date.now();
  expect(cost(`{ ...F0 } ${fragments.join(' ')}`)).toBeGreaterThan(GRAPHQL_LIMITS.maxCost);
  expect(Date.now() - started).toBeLessThan(1_000);
});

it('reports one error per operation over the limit, naming the limit', () => {
  const big = ['a', 'b', 'c', 'd', 'e'].map((alias) => `${alias}: tickets(first: 100) { edges { node { ${NODE} } } }`).join(' ');
  const document = parse(`query Small { me { id } } query Big { ${big} }`);
  const errors = validate(schema, document, [costLimitRule(COST_OPTIONS)]);
  expect(errors.map((error) => error.message)).toEqual([
    `Query cost limit of ${GRAPHQL_LIMITS.maxCost} exceeded: this operation costs 66505. Ask for smaller pages (first) or fewer nested fields.`,
  ]);
});

it('charges a connection paged backwards by last like one paged forwards by first', () => {
  expect(cost(page('(last: 10)'))).toBe(cost(page('(first: 10)')));
  expect(cost(page('(last: $n)'))).toBe(cost(page('(first: 100)')));
  expect(cost(page('(last: 100000)'))).toBe(cost(page('(first: 100)')));
  // Both given (refused by the resolver): charged the larger.
  expect(cost(page('(first: 2, last: 30)'))).toBe(cost(page('(first: 30)')));
});

it('charges the HTTP change feed by its page size', () => {
  const feed = (args: string) => `{ ticketEventLog${args} { pageInfo { endCursor } edges { node { kind ticket { id } } } } }`;
  expect(cost(feed('(first: 10)'))).toBeLessThan(cost(feed('(first: 100)')));
  expect(cost(feed('(first: 100)'))).toBe(cost(feed('(first: $n)').replace('{ ticketEventLog', 'query($n: Int) { ticketEventLog')));
});
