import { createClient, type Client } from 'graphql-ws';

/**
 * A plain graphql-ws client: every operation over the one socket (queries and mutations too),
 * signed in with the token from `login` (or `{ credential }`).
 */
export function createTicketSocket(options: {
  wsUrl: string; // ws://HOST:PORT/graphql
  token: string;
  webSocketImpl?: unknown; // Node 20: `ws`'s WebSocket; browsers and Node 22+ have their own
}): Client {
  return createClient({
    url: options.wsUrl,
    connectionParams: { token: options.token },
    webSocketImpl: options.webSocketImpl,
    // 4403 (sign-in no longer holds) and 4429 (too many sockets) are final; graphql-ws retries the rest.
    retryAttempts: 5,
  });
}

/** One result of a query or mutation. */
export async function request<T>(client: Client, query: string, variables?: Record<string, unknown>): Promise<T> {
  for await (const result of client.iterate<T>({ query, variables })) {
    if (result.errors?.length) throw new Error(result.errors.map((error) => error.message).join('; '));
    return result.data as T;
  }
  throw new Error('the operation completed without a result');
}

export interface TicketView {
  id: string;
  status: string;
  permissions: { reply: boolean; edit: boolean; cancel: boolean };
}

const EVENTS = `subscription($after: String) {
  ticketEvents(after: $after) { cursor kind ticket { id status permissions { reply edit cancel } } }
}`;

/**
 * Keeps `tickets` (the application's own cache) current from `ticketEvents`, and the last cursor,
 * so that after a disconnect the subscription resumes where it stopped: graphql-ws re-subscribes
 * with the same payload on reconnect, so `after` is moved on inside it.
 */
export function followTickets(
  client: Client,
  tickets: Map<string, TicketView>,
  on: { change?: () => void; error?: (error: unknown) => void } = {},
): () => void {
  const payload = { query: EVENTS, variables: { after: undefined as string | undefined } };
  return client.subscribe<{ ticketEvents: { cursor: string; kind: string; ticket: TicketView } }>(payload, {
    next: ({ data }) => {
      if (!data) return;
      payload.variables.after = data.ticketEvents.cursor;
      tickets.set(data.ticketEvents.ticket.id, data.ticketEvents.ticket);
      on.change?.();
    },
    error: on.error ?? ((error) => console.error('ticketEvents ended', error)),
    complete: () => undefined,
  });
}
