import { cacheExchange, Client, fetchExchange, gql, subscriptionExchange } from '@urql/core';
import { createClient, type Client as WsClient } from 'graphql-ws';

/** The socket for subscriptions, signed in with the token from `login`; dispose it on sign-out. */
export function createSocket(options: {
  wsUrl: string; // ws://HOST:PORT/graphql
  token: string;
  webSocketImpl?: unknown; // Node 20: `ws`'s WebSocket; browsers and Node 22+ have their own
}): WsClient {
  return createClient({ url: options.wsUrl, connectionParams: { token: options.token }, webSocketImpl: options.webSocketImpl });
}

/** Queries and mutations over HTTP with the sign-in token, subscriptions over graphql-ws. */
export function createUrqlClient(options: { httpUrl: string; token: string; socket: WsClient }): Client {
  const ws = options.socket;
  return new Client({
    url: options.httpUrl,
    // urql sends short queries as GET by default; the server refuses a GET that could be a
    // cross-site request (no JSON content-type, no preflight header): POST them.
    preferGetMethod: false,
    fetchOptions: () => ({ headers: { authorization: `Bearer ${options.token}` } }),
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? '' };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
}

export const TICKETS = gql`
  query Tickets {
    tickets(first: 20) {
      edges {
        node {
          id
          status
          permissions {
            reply
            edit
            cancel
          }
        }
      }
    }
  }
`;

export const EDIT_TICKET = gql`
  mutation EditTicket($id: ID!, $content: String!) {
    editTicket(id: $id, input: { content: $content }) {
      id
      content
    }
  }
`;

export const TICKET_EVENTS = gql`
  subscription TicketEvents($after: String) {
    ticketEvents(after: $after) {
      cursor
      kind
      ticket {
        id
        status
      }
    }
  }
`;

/**
 * urql's document cache keeps whole query results. A mutation's result invalidates every cached
 * query that holds its types; a subscription's does so only for the types it names in
 * `additionalTypenames`: then each event re-runs the ticket queries being watched.
 */
export function followTicketEvents(client: Client, onEvent: (event: { cursor: string; kind: string }) => void): () => void {
  const { unsubscribe } = client.subscription(TICKET_EVENTS, {}, { additionalTypenames: ['Ticket'] }).subscribe((result) => {
    if (result.data) onEvent(result.data.ticketEvents);
  });
  return unsubscribe;
}
