import { createClient, type Client } from 'graphql-ws';
import { TICKET_FIELDS, type TicketEvent } from './api';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'closed';

const EVENTS = `subscription Board($after: String) {
  ticketEvents(after: $after) { cursor kind at actor { id username } reply { id } ticket { ${TICKET_FIELDS} } }
}`;

export interface LiveOptions {
  token: string;
  /** Resume after this cursor (the last event this tab received before). */
  after?: string;
  onEvent(event: TicketEvent): void;
  onState(state: ConnectionState, detail?: string): void;
  /** The connection came back after a drop: the replay follows; lists may be re-read. */
  onReconnected(): void;
  /** The server ended the session (4403: revoked, expired, deactivated). */
  onSessionEnded(reason: string): void;
  onError(message: string): void;
}

/**
 * ticketEvents over graphql-ws with resume: the subscription's variables are one object that
 * graphql-ws sends again on every reconnect, and `after` in it is moved to each event's cursor,
 * so a reconnect replays exactly what this tab has not seen.
 */
export function openLive(options: LiveOptions): { close(): void; cursor(): string | undefined } {
  const variables: { after?: string } = { after: options.after };
  let closedByUs = false;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
  const client: Client = createClient({
    url,
    connectionParams: { token: options.token },
    lazy: false,
    keepAlive: 5_000,
    retryAttempts: Infinity,
    retryWait: async (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** retries, 4_000))),
    shouldRetry: (event) => {
      const code = (event as CloseEvent | undefined)?.code;
      return code !== 4403 && code !== 4429 && code !== 4401;
    },
    on: {
      connecting: (retrying) => options.onState(retrying ? 'reconnecting' : 'connecting'),
      connected: (_socket, _payload, retrying) => {
        options.onState('live');
        if (retrying) options.onReconnected();
      },
      closed: (event) => {
        if (closedByUs) return options.onState('closed');
        const close = event as CloseEvent | undefined;
        if (close?.code === 4403) {
          options.onState('closed', close.reason);
          options.onSessionEnded(close.reason ? `Signed out: ${close.reason}.` : 'Signed out: your session ended.');
          return;
        }
        if (close?.code === 4429) return options.onState('closed', close.reason);
        options.onState('reconnecting', navigator.onLine ? 'connection lost' : 'offline');
      },
    },
  });
  // A socket that stopped answering (a dropped network often looks like silence) is closed, so the
  // client reconnects instead of waiting for the operating system to notice.
  let pongTimer: ReturnType<typeof setTimeout> | undefined;
  client.on('ping', (received) => {
    if (received) return;
    pongTimer = setTimeout(() => client.terminate(), 4_000);
  });
  client.on('pong', (received) => {
    if (received) clearTimeout(pongTimer);
  });
  const onOffline = () => client.terminate();
  window.addEventListener('offline', onOffline);

  client.subscribe<{ ticketEvents: TicketEvent }>(
    { query: EVENTS, variables },
    {
      next: (result) => {
        const event = result.data?.ticketEvents;
        if (event) {
          variables.after = event.cursor;
          options.onEvent(event);
        } else if (result.errors?.length) {
          options.onError(result.errors[0].message);
        }
      },
      error: (error) => {
        if (closedByUs) return;
        const message = Array.isArray(error) ? error[0]?.message : (error as { reason?: string })?.reason;
        if (message) options.onError(`Live updates stopped: ${message}`);
      },
      complete: () => undefined,
    },
  );
  return {
    close() {
      closedByUs = true;
      window.removeEventListener('offline', onOffline);
      clearTimeout(pongTimer);
      void client.dispose();
    },
    cursor: () => variables.after,
  };
}
