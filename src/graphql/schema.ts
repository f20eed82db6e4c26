import type { GraphQLSchema } from 'graphql';
import { buildSchema, type NonEmptyArray } from 'type-graphql';
import { serializeDateTimeNumbersAsText } from './date-time';
import { callFieldResolversDirectly } from './direct-resolvers';
import { NO_TOPICS, TicketEventResolver } from './event/ticket-event.resolver';
import { ReplyResolver } from './reply/reply.resolver';
import { TicketConnectionResolver, TicketResolver } from './ticket/ticket.resolver';
import { SessionResolver } from './session/session.resolver';
import { UserAuditEntryResolver, UserConnectionResolver, UserResolver } from './user/user.resolver';

/* eslint-disable-next-line @typescript-eslint/no-unsafe-function-type */
export const RESOLVERS: NonEmptyArray<Function> = [
  UserResolver,
  TicketResolver,
  TicketConnectionResolver,
  ReplyResolver,
  TicketEventResolver,
  // People (issue 11): sign-in tokens, the user directory, the user lifecycle.
  SessionResolver,
  UserConnectionResolver,
  UserAuditEntryResolver,
];

/** The executable schema; `schema.graphql` at the repository root is its printed form. */
export async function buildGraphQLSchema(): Promise<GraphQLSchema> {
  // No global middlewares and no auth checker: callFieldResolversDirectly relies on it.
  const schema = await buildSchema({ resolvers: RESOLVERS, validate: false, pubSub: NO_TOPICS });
  serializeDateTimeNumbersAsText(schema);
  // Once per ticket of a page: without type-graphql's per-call wrapper (direct-resolvers.ts).
  callFieldResolversDirectly(schema, TicketResolver, 'Ticket', ['images', 'replies', 'history', 'permissions']);
  return schema;
}
