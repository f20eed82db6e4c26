import { createClient, type Client } from 'graphql-sse';

/**
 * `ticketEvents` over Server-Sent Events (for networks that drop WebSockets). /graphql/stream
 * serves subscriptions only: queries and mutations go to POST /graphql (below, with fetch).
 */
export function createTicketStream(options: {
  streamUrl: string; // http://HOST:PORT/graphql/stream
  token: string; // from the `login` mutation (or `Credential <hex>` instead of `Bearer`)
}): Client {
  let refused = false;
  return createClient({
    url: options.streamUrl,
    headers: { authorization: `Bearer ${options.token}` },
    // graphql-sse retries every refused or dropped stream. A refused token (401) will not get
    // better by retrying: throwing from `retry` ends the subscription with that error instead.
    fetchFn: async (...args: Parameters<typeof fetch>) => {
      const response = await fetch(...args);
      refused = response.status === 401;
      return response;
    },
    retry: async (retries) => {
      if (refused) throw new Error('The sign-in token was refused: sign in again');
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000 * 2 ** retries, 30_000)));
    },
  });
}

/** Queries and mutations: GraphQL over HTTP. */
export async function request<T>(httpUrl: string, token: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const response = await fetch(httpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: Array<{ message: string }> };
  if (body.errors?.length) throw new Error(body.errors.map((error) => error.message).join('; '));
  return body.data as T;
}

export interface TicketView {
  id: string;
  status: string;
  permissions: { reply: boolean; edit: boolean; cancel: boolean };
}

/**
 * Keeps `tickets` current from `ticketEvents`. graphql-sse sends the same request object again
 * when it reconnects (a server restart, another process behind the proxy), so moving `after` on
 * inside it resumes right after the last event received: nothing missed, nothing repeated.
 */
export function followTickets(
  client: Client,
  tickets: Map<string, TicketView>,
  on: { change?: () => void; error?: (error: unknown) => void } = {},
): () => void {
  const request = {
    query: `subscription($after: String) {
      ticketEvents(after: $after) { cursor kind ticket { id status permissions { reply edit cancel } } }
    }`,
    variables: { after: undefined as string | undefined },
  };
  return client.subscribe<{ ticketEvents: { cursor: string; kind: string; ticket: TicketView } }>(request, {
    next: ({ data, errors }) => {
      // A stream ended by the server says why (an UNAUTHENTICATED sign-in, a subscriber far behind).
      if (errors?.length) console.error('ticketEvents:', errors);
      if (!data) return;
      request.variables.after = data.ticketEvents.cursor;
      tickets.set(data.ticketEvents.ticket.id, data.ticketEvents.ticket);
      on.change?.();
    },
    error: on.error ?? ((error) => console.error('ticketEvents ended', error)),
    complete: () => undefined,
  });
}
