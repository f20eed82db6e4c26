import { badInput } from '../shared/errors';

/**
 * What the connection queries (`tickets`, `ticketEventLog`, `users`) and the audit trail share
 * when they page: the size argument's bounds and a Relay page's `edges` and `pageInfo`.
 */

/**
 * A page size argument (`first`, `last`): undefined when absent, else an integer from 1 to `max`.
 *
 * @throws DomainError BAD_INPUT naming `field` outside those bounds.
 */
export function pageSize(value: number | null | undefined, field: string, max: number): number | undefined {
  if (value == null) return undefined;
  if (value < 1 || value > max) throw badInput(field, `${field} must be between 1 and ${max}`);
  return value;
}

/** One page of a Relay connection, as the connection types declare it. */
interface Page<Node> {
  edges: Array<{ cursor: string; node: Node }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/**
 * The page that `nodes` make, each edge's cursor from `cursorOf`. The end cursor is the last
 * edge's unless `endCursor` says where to resume otherwise (the event log resumes past events the
 * viewer did not see). Relay lets the direction not paged in answer false.
 */
export function pageOf<Item, Node>(
  nodes: readonly Item[],
  cursorOf: (item: Item) => string,
  toNode: (item: Item) => Node,
  more: { hasNextPage: boolean; hasPreviousPage?: boolean; endCursor?: string | null },
): Page<Node> {
  const edges = nodes.map((item) => ({ cursor: cursorOf(item), node: toNode(item) }));
  return {
    edges,
    pageInfo: {
      hasNextPage: more.hasNextPage,
      hasPreviousPage: more.hasPreviousPage ?? false,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: more.endCursor !== undefined ? more.endCursor : (edges.at(-1)?.cursor ?? null),
    },
  };
}
