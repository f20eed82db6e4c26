import { createClient, NetworkError, type Client, type ExecutionResult, type RequestParams } from 'graphql-sse';
import { authorizationOf, type Signer } from '../support/http';
import type { TestServer } from '../support/server';
import { TICKET_EVENTS, type ReceivedEvent } from '../support/live-client';

/**
 * Real graphql-sse clients (distinct connections mode, Node's fetch) for the SSE suites. By default
 * they do not retry, so a refusal or a dropped stream surfaces instead of being retried away;
 * `retry: true` gives the library's reconnecting behaviour with a short fixed delay.
 */
export const streamUrl = (server: Pick<TestServer, 'url'>): string => `${server.url}/graphql/stream`;

export interface SseOptions {
  /** Where to connect, asked on every (re)connect: a function lets a test move the client to another process. */
  url?: string | (() => string | Promise<string>);
  /** Reconnect after a dropped stream (graphql-sse's default), every 50 ms, at most 20 times. */
  retry?: boolean;
}

export function sseClient(server: Pick<TestServer, 'url'>, signer: Signer, options: SseOptions = {}): Client {
  const url = options.url ?? streamUrl(server);
  return createClient({
    url: typeof url === 'string' ? url : () => url(),
    headers: authorizationOf(signer),
    retryAttempts: options.retry ? 20 : 0,
    retry: () => new Promise((resolve) => setTimeout(resolve, 50)),
  });
}

/** One SSE subscription's results; on each event the request's `after` moves on (the recipe's resume). */
export class SseStream {
  readonly events: ReceivedEvent[] = [];
  readonly errors: Array<{ message: string; extensions?: { code?: string } }> = [];
  /** A failure of the connection itself (graphql-sse's NetworkError, with the response when there was one). */
  failure: unknown;
  completed = false;
  /** Connections made, reconnections included. */
  connects = 0;
  readonly request: RequestParams & { variables: { ticketId?: string; after?: string } };
  private readonly unsubscribe: () => void;
  private listeners: Array<() => void> = [];

  constructor(client: Client, variables: { ticketId?: string; after?: string } = {}, query = TICKET_EVENTS) {
    // graphql-sse sends this same object on every reconnect: moving `after` on resumes there.
    this.request = { query, variables: { ...variables } };
    this.unsubscribe = client.subscribe<{ ticketEvents: ReceivedEvent }>(
      this.request,
      {
        next: (result: ExecutionResult<{ ticketEvents: ReceivedEvent }, unknown>) => {
          if (result.errors?.length) this.errors.push(...(result.errors as unknown as SseStream['errors']));
          const event = result.data?.ticketEvents;
          if (event) {
            this.events.push(event);
            this.request.variables.after = event.cursor;
          }
          this.changed();
        },
        error: (error) => {
          this.failure = error;
          this.changed();
        },
        complete: () => {
          this.completed = true;
          this.changed();
        },
      },
      { connected: () => void this.connects++ },
    );
  }

  get kinds(): string[] {
    return this.events.map((event) => event.kind);
  }

  /** The HTTP status the connection was refused with, if it was. */
  get refusedWith(): number | undefined {
    return this.failure instanceof NetworkError ? (this.failure.response as Response | undefined)?.status : undefined;
  }

  async until(predicate: (stream: this) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (predicate(this)) return;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!predicate(this)) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((listener) => listener !== check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((listener) => listener !== check);
        reject(
          new Error(
            `timed out waiting for ${what}; got ${JSON.stringify({ kinds: this.kinds, errors: this.errors, failure: String(this.failure), completed: this.completed })}`,
          ),
        );
      }, timeoutMs);
      this.listeners.push(check);
    });
  }

  count(count: number, timeoutMs?: number): Promise<void> {
    return this.until((stream) => stream.events.length >= count, `${count} events`, timeoutMs);
  }

  /** Waits until the subscription completed or failed. */
  ended(timeoutMs?: number): Promise<void> {
    return this.until((stream) => stream.completed || stream.failure !== undefined, 'the end of the stream', timeoutMs);
  }

  stop(): void {
    this.unsubscribe();
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
