import WebSocket from 'ws';
import { wsUrl } from './live-client';
import type { TestServer } from './server';

/**
 * A graphql-ws connection driven by hand (the `ws` package, protocol `graphql-transport-ws`), for
 * what the graphql-ws client hides: the exact close code and reason, and pausing the socket so the
 * server meets back-pressure.
 */
export interface RawSocket {
  readonly ws: WebSocket;
  /** Resolves true on connection_ack, false when the socket closes first. */
  readonly acked: Promise<boolean>;
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Every message received, as text. */
  readonly messages: string[];
  /** Resolves when a message satisfies `predicate` (checked on each new one). */
  until(predicate: (messages: string[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  subscribe(id: string, query: string, variables?: Record<string, unknown>): void;
  close(): void;
}

/** `digest` keeps a shorter form of each message (a suite receiving megabytes keeps its cursors). */
export function rawConnect(server: Pick<TestServer, 'url'>, credential: string | undefined, digest: (text: string) => string = (text) => text): RawSocket {
  const ws = new WebSocket(wsUrl(server), 'graphql-transport-ws', { maxPayload: 1024 * 1024 * 1024 });
  const messages: string[] = [];
  let listeners: Array<() => void> = [];
  let resolveAck: (value: boolean) => void = () => undefined;
  const acked = new Promise<boolean>((resolve) => (resolveAck = resolve));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => {
      resolveAck(false);
      resolve({ code, reason: reason.toString('utf8') });
      for (const listener of listeners) listener();
    }),
  );
  ws.on('error', () => undefined);
  ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: credential === undefined ? {} : { credential } })));
  ws.on('message', (data) => {
    const text = data.toString();
    if (text.includes('"connection_ack"')) resolveAck(true);
    messages.push(digest(text));
    for (const listener of [...listeners]) listener();
  });
  return {
    ws,
    acked,
    closed,
    messages,
    until(predicate, what, timeoutMs = 10_000) {
      if (predicate(messages)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners = listeners.filter((listener) => listener !== check);
          reject(new Error(`timed out waiting for ${what} (${messages.length} messages)`));
        }, timeoutMs);
        const check = () => {
          if (!predicate(messages)) return;
          clearTimeout(timer);
          listeners = listeners.filter((listener) => listener !== check);
          resolve();
        };
        listeners.push(check);
      });
    },
    subscribe(id, query, variables) {
      ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
    },
    close() {
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.terminate();
    },
  };
}

/**
 * The raw sockets a suite opens on its server (`server()`, read when a socket opens), closed
 * together by `closeAll` (in an afterEach to free a user's places between tests, or an afterAll).
 */
export function rawSockets(server: () => Pick<TestServer, 'url'>): { open(credential: string): RawSocket; closeAll(): void } {
  const sockets: RawSocket[] = [];
  return {
    open(credential) {
      const socket = rawConnect(server(), credential);
      sockets.push(socket);
      return socket;
    },
    closeAll() {
      for (const socket of sockets.splice(0)) socket.close();
    },
  };
}
