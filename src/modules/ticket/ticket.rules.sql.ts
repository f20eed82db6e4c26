import type { Viewer } from '../user/viewer';
import { ALL_STATUSES, STATUS_CODE, TicketStatus } from './ticket-status';
import { decide, type TicketFacts, type TicketOperation } from './ticket.rules';

/**
 * The rule table's decision as a condition PostgreSQL checks on a ticket's row, so that a write
 * can lock the row, be decided and be made in one message (ticket.service.ts, reply.service.ts;
 * docs/performance.md "Write path").
 *
 * Not a second copy of the rules: the condition is computed from `decide` (ticket.rules.ts).
 * `decide` reads three facts off a ticket, given the viewer: its status, whether the viewer filed
 * it, and whether the viewer is its staff member (`relationsOf`, `scopeIncludes`). A ticket's
 * **rule key** numbers them: status code × 4 + filed × 2 + assigned. For one viewer and one
 * operation, the keys `decide` allows are found by asking it about one ticket of each key, and
 * the statement writes only when the row's key is one of them. `ticket.rules.sql.test.ts` checks
 * the premise (every ticket with the same key gets the same decision, for every set of roles)
 * and the SQL against `decide` on both databases; the caller still runs `decide` on the row it
 * locked, to word a refusal.
 */

/** The condition over the tickets row `alias`; its parameters are {@link ruleParams}'. */
export const ruleConditionSql = (alias: string): string =>
  `(${alias}.status * 4 + (${alias}.customer_id = ?)::int * 2 + coalesce(${alias}.staff_id = ?, false)::int) = any(?::int[])`;

/** A ticket's rule key for this viewer (what the condition computes in SQL). */
export function ruleKey(viewer: Viewer, ticket: TicketFacts): number {
  return STATUS_CODE[ticket.status] * 4 + (ticket.customerId === viewer.id ? 2 : 0) + (ticket.staffId === viewer.id ? 1 : 0);
}

/** One ticket with each rule key, as `decide` is asked about it. */
function representative(viewer: Viewer, status: TicketStatus, filed: boolean, assigned: boolean): TicketFacts {
  return { status, customerId: filed ? viewer.id : viewer.id + 1, staffId: assigned ? viewer.id : null };
}

/**
 * Allowed keys by operation and set of roles: `decide` reads nothing else of the viewer (its id
 * only through the key). Bounded by the roles' subsets times the operations.
 */
const allowedByRoles = new Map<string, string>();
const MAX_CACHED = 256;

/** The keys `decide` allows this viewer for this operation, as a PostgreSQL int[] literal. */
export function allowedKeys(viewer: Viewer, operation: TicketOperation): string {
  const cacheKey = `${operation}:${[...viewer.roles].sort().join(',')}`;
  let keys = allowedByRoles.get(cacheKey);
  if (keys === undefined) {
    const allowed: number[] = [];
    for (const status of ALL_STATUSES) {
      for (const filed of [false, true]) {
        for (const assigned of [false, true]) {
          const ticket = representative(viewer, status, filed, assigned);
          if (decide(viewer, operation, ticket).allowed) allowed.push(ruleKey(viewer, ticket));
        }
      }
    }
    keys = `{${allowed.sort((a, b) => a - b).join(',')}}`;
    if (allowedByRoles.size < MAX_CACHED) allowedByRoles.set(cacheKey, keys);
  }
  return keys;
}

/** The parameters of {@link ruleConditionSql}, in its order. */
export const ruleParams = (viewer: Viewer, operation: TicketOperation): unknown[] => [viewer.id, viewer.id, allowedKeys(viewer, operation)];
