import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';
import type { TestServer, TestUser } from './server';

/**
 * Real graphql-ws clients for the realtime suites: `ws` as the WebSocket, the credential in
 * `connectionParams`, no retries (a refused connection must surface, not be retried away).
 */

export interface ReceivedEvent {
  cursor: string;
  kind: string;
  ticket: {
    id: string;
    status: string;
    staff: { id: string } | null;
    permissions: Record<string, boolean>;
    replies?: Array<{ id: string; content: string }>;
  };
  reply: { id: string; content: string; author: { id: string }; createdAt: string } | null;
  actor: { id: string; username: string };
  at: string;
}

export const EVENT_FIELDS = `
  cursor kind at
  actor { id username }
  reply { id content author { id } createdAt }
  ticket {
    id status
    staff { id }
    permissions { reply edit assign startProcessing requestInformation fix close reopen cancel }
  }
`;

export const TICKET_EVENTS = `subscription($ticketId: ID, $after: String) {
  ticketEvents(ticketId: $ticketId, after: $after) { ${EVENT_FIELDS} }
}`;

export const wsUrl = (server: Pick<TestServer, 'url'>): string => `${server.url.replace(/^http/, 'ws')}/graphql`;

export interface Closed {
  code: number;
  reason: string;
}

/** A connected client; `closed` resolves with the close code when the socket closes. */
export interface LiveClient {
  readonly client: Client;
  readonly closed: Promise<Closed>;
  /**
   * Resolves when the server acknowledged the connection; rejects, naming the close code, when
   * the socket closed before that (refused, or lost while connecting).
   */
  readonly connected: Promise<void>;
  dispose(): Promise<void>;
}

export function connect(server: Pick<TestServer, 'url'>, user: Pick<TestUser, 'credential'> | null, params?: Record<string, unknown>): LiveClient {
  let resolveClosed: (closed: Closed) => void = () => undefined;
  const closed = new Promise<Closed>((resolve) => (resolveClosed = resolve));
  let acknowledged = false;
  let resolveConnected: () => void = () => undefined;
  const connected = new Promise<void>((resolve) => (resolveConnected = resolve)).then(() => {
    acknowledged = true;
  });
  const connectedOrClosed = Promise.race([
    connected,
    closed.then(({ code, reason }) => {
      if (!acknowledged) throw new Error(`the socket closed before it was acknowledged: ${code} ${reason}`);
    }),
  ]);
  // Suites that never wait for it must not see an unhandled rejection (a refusal they test).
  connectedOrClosed.catch(() => undefined);
  const client = createClient({
    url: wsUrl(server),
    webSocketImpl: WebSocket,
    connectionParams: params ?? (user ? { credential: user.credential } : {}),
    retryAttempts: 0,
    lazy: false,
    // Errors surface through `closed` and the sinks; the client must not throw them globally.
    onNonLazyError: () => undefined,
    on: {
      connected: () => resolveConnected(),
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string };
        resolveClosed({ code, reason: String(reason) });
      },
    },
  });
  return {
    client,
    closed,
    connected: connectedOrClosed,
    dispose: async () => {
      await client.dispose();
    },
  };
}

/** One subscription's received results, with helpers to wait for them. */
export class EventStream {
  readonly events: ReceivedEvent[] = [];
  readonly errors: unknown[] = [];
  completed = false;
  private readonly unsubscribe: () => void;
  private listeners: Array<() => void> = [];

  constructor(client: Client, variables: { ticketId?: string; after?: string } = {}, query = TICKET_EVENTS) {
    this.unsubscribe = client.subscribe<{ ticketEvents: ReceivedEvent }>(
      { query, variables },
      {
        next: (result: FormattedExecutionResult<{ ticketEvents: ReceivedEvent }>) => {
          if (result.errors?.length) this.errors.push(...result.errors);
          if (result.data?.ticketEvents) this.events.push(result.data.ticketEvents);
          this.changed();
        },
        error: (error) => {
          // An `error` message carries a list of GraphQL errors; a closed socket, its CloseEvent.
          if (Array.isArray(error)) this.errors.push(...error);
          else this.errors.push(error);
          this.changed();
        },
        complete: () => {
          this.completed = true;
          this.changed();
        },
      },
    );
  }

  get kinds(): string[] {
    return this.events.map((event) => event.kind);
  }

  /**
   * Resolves when `predicate` holds (checked on every result), or rejects after `timeoutMs` (10 s
   * by default, as SseStream's: on a loaded machine an event can take seconds, never ten).
   */
  async until(predicate: (stream: this) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (predicate(this)) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((listener) => listener !== check);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify({ kinds: this.kinds, errors: this.errors })}`));
      }, timeoutMs);
      const check = () => {
        if (!predicate(this)) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((listener) => listener !== check);
        resolve();
      };
      this.listeners.push(check);
    });
  }

  /** Waits for at least `count` events. */
  count(count: number, timeoutMs?: number): Promise<void> {
    return this.until((stream) => stream.events.length >= count, `${count} events`, timeoutMs);
  }

  /** Waits for the first error or completion. */
  ended(timeoutMs?: number): Promise<void> {
    return this.until((stream) => stream.errors.length > 0 || stream.completed, 'an error or completion', timeoutMs);
  }

  stop(): void {
    this.unsubscribe();
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * Waits until the server has fanned out everything committed and its subscribers have taken it,
 * then a little longer for the last frames to cross the loopback: after this, an event a client
 * has not received is an event it will not receive.
 */
export async function settled(server: Pick<TestServer, 'app'>): Promise<void> {
  await server.app.live.hub?.settle(5_000);
  await new Promise((resolve) => setTimeout(resolve, 150));
}

/**
 * Waits until the hub of `server` counts exactly `count` subscribers (they come and go
 * asynchronously). How long that takes grows with `count` and with the machine's load (each one is
 * a socket to open and acknowledge, then an operation to subscribe, all in this process), so it
 * fails when the count has stopped moving for `stallMs` of this process's own running time, not
 * after a fixed total: a stuck count fails as fast as before on a quiet machine, and a count that
 * moves slowly because the process hardly gets the CPU (another suite's Chromium on the same two
 * cores) is waited for. A poll that comes late (the process was not running) counts as one poll.
 */
export async function subscribers(server: Pick<TestServer, 'app'>, count: number, stallMs = 5_000): Promise<void> {
  const POLL_MS = 10;
  const current = () => server.app.live.hub?.stats().subscribers ?? 0;
  let last = current();
  let stalledMs = 0;
  while (last !== count) {
    if (stalledMs > stallMs) {
      const sockets = server.app.live.sockets?.connections;
      throw new Error(`expected ${count} subscribers, have ${last} (unchanged for ${stallMs} ms; ${sockets} sockets open)`);
    }
    const before = Date.now();
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const now = current();
    if (now !== last) {
      last = now;
      stalledMs = 0;
    } else {
      stalledMs += Math.min(Date.now() - before, 5 * POLL_MS);
    }
  }
}
