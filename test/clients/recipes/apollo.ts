import { ApolloClient, ApolloLink, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient, type Client as WsClient } from 'graphql-ws';

/** The socket for subscriptions, signed in with the token from `login`; dispose it on sign-out. */
export function createSocket(options: {
  wsUrl: string; // ws://HOST:PORT/graphql
  token: string;
  webSocketImpl?: unknown; // Node 20: `ws`'s WebSocket; browsers and Node 22+ have their own
}): WsClient {
  return createClient({ url: options.wsUrl, connectionParams: { token: options.token }, webSocketImpl: options.webSocketImpl });
}

export interface Endpoints {
  httpUrl: string; // http://HOST:PORT/graphql
  token: string;
  socket: WsClient;
}

/** Queries and mutations over HTTP with the sign-in token, subscriptions over graphql-ws. */
export function createLink(options: Endpoints): ApolloLink {
  const http = new HttpLink({ uri: options.httpUrl, headers: { authorization: `Bearer ${options.token}` } });
  const ws = new GraphQLWsLink(options.socket);
  return ApolloLink.split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
    },
    ws,
    http,
  );
}

export function createApolloClient(options: Endpoints): ApolloClient {
  return new ApolloClient({
    link: createLink(options),
    cache: new InMemoryCache({
      typePolicies: {
        // TicketPermissions has no id: without this, a result selecting fewer flags than the
        // cache holds replaces the object, and queries that selected the others read back as missing.
        Ticket: { fields: { permissions: { merge: true } } },
      },
    }),
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
            assign
            startProcessing
            requestInformation
            fix
            close
            reopen
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

/** Apollo writes each event's ticket into the cache: every query showing that ticket updates. */
export const TICKET_EVENTS = gql`
  subscription TicketEvents($after: String) {
    ticketEvents(after: $after) {
      cursor
      kind
      ticket {
        id
        status
        permissions {
          reply
          cancel
        }
      }
    }
  }
`;
