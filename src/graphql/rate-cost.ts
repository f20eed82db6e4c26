import { Kind, type DocumentNode, type FragmentDefinitionNode, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { operationCost } from './cost-limit';
import { COST_OPTIONS } from './query-limits';

/**
 * What an operation costs against its client's budget (docs/hardening.md, "Request budgets"),
 * from the static cost the query limits already compute (cost-limit.ts: roughly the number of
 * values the worst-case answer holds, known before anything runs):
 *
 * - a query or a subscription start: 1 + ⌊static cost / 100⌋ points;
 * - a mutation: 10 + ⌊static cost / 100⌋ points (it writes, and may hash a password);
 * - a legacy request (`LEGACY_REQUEST_POINTS`, legacy/legacy.routes.ts): a fixed 10 points,
 *   whatever the action.
 *
 * So `{ me { id } }` costs 1, the bench's 50-ticket list page (static cost 9,554) 96, the same
 * page of 100 tickets (19,104) 192, and the standard introspection query 509.
 */
export const POINTS = {
  read: 1,
  mutation: 10,
  /** Static cost per additional point. */
  valuesPerPoint: 100,
} as const;

export function operationPoints(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const values = operationCost(schema, operation, (name) => fragments.get(name), COST_OPTIONS);
  const base = operation.operation === 'mutation' ? POINTS.mutation : POINTS.read;
  return base + Math.floor(values / POINTS.valuesPerPoint);
}
