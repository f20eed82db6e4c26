/**
 * How many tickets one page of a list holds: the default when a client names no size, and the
 * most it may ask for. GraphQL's `tickets` applies them, and the query cost limit prices a
 * connection by them (graphql/query-limits.ts).
 */
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
