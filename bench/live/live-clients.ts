import { createClient, type Client } from 'graphql-ws';
import WebSocket, { type ClientOptions } from 'ws';
import { WindowProfiler } from './live-profile';
import { wallClock, type ClientCommand, type ClientEnvelope, type ClientProgress, type ClientReceipts, type Reply } from './live-ipc';

/**
 * One process of the live benchmark's load side: it holds a share of the subscribers (real
 * graphql-ws clients, each on its own socket) and notes the instant each event arrives. The
 * benchmark spreads the subscribers over several of these processes: one process may hold no
 * more sockets than its file-descriptor limit, and one source address has ~28,000 ephemeral
 * ports toward one server port, so each process connects from a loopback address of its own
 * (127.0.0.x).
 */

interface Subscriber {
  readonly role: string;
  readonly client: Client;
  /** Events received during the measured window. */
  received: number;
}

const CONNECT_BATCH = 250;
const subscribers: Subscriber[] = [];
let measuring = false;
let receipts: number[] = [];
let subscriptionErrors = 0;
let cpuAtStart = process.cpuUsage();
/** This process's CPU over the measured window, in µs (noted when it ends). */
let cpuMicros = 0;

const seqOf = (cursor: string): number => Number(Buffer.from(cursor, 'base64url').toString('utf8').slice('event:'.length));

/** What graphql-ws constructs: `new WebSocket(url, protocol)`, here bound to a source address. */
function socketFrom(localAddress: string): unknown {
  return class extends WebSocket {
    constructor(address: string, protocols?: string | string[], options?: ClientOptions) {
      super(address, protocols, { ...options, localAddress });
    }
  };
}

/** Connections that failed to open and were tried again (a busy machine can miss graphql-ws's 3 s init wait). */
let retries = 0;
const MAX_TRIES = 4;

async function open(url: string, impl: unknown, role: string, credential: string, query: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await openOnce(url, impl, role, credential, query);
    } catch (error) {
      if (attempt >= MAX_TRIES) throw error;
      retries++;
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
    }
  }
}

function openOnce(url: string, impl: unknown, role: string, credential: string, query: string): Promise<void> {
  let opened = false;
  let settle: { resolve: () => void; reject: (error: Error) => void } | undefined;
  const connected = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  const subscriber: Subscriber = { role, client: undefined as unknown as Client, received: 0 };
  const client = createClient({
    url,
    webSocketImpl: impl,
    connectionParams: { credential },
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: (error) => {
      const { code, reason } = error as { code?: number; reason?: string };
      settle?.reject(error instanceof Error ? error : new Error(`a subscriber's connection closed: ${code} ${reason ?? ''}`));
    },
    on: { connected: () => settle?.resolve() },
  });
  (subscriber as { client: Client }).client = client;
  client.subscribe<{ ticketEvents: { cursor: string } }>(
    { query },
    {
      next: (result) => {
        if (!measuring || !result.data) return;
        receipts.push(seqOf(result.data.ticketEvents.cursor), wallClock());
        subscriber.received++;
      },
      error: () => {
        if (opened) subscriptionErrors++;
      },
      complete: () => undefined,
    },
  );
  // Counted once connected: a failed attempt is disposed and tried again.
  return connected.then(
    () => {
      opened = true;
      subscribers.push(subscriber);
    },
    async (error: unknown) => {
      await client.dispose();
      throw error;
    },
  );
}

const profiler = new WindowProfiler();

async function handle(command: ClientCommand): Promise<unknown> {
  switch (command.type) {
    case 'open': {
      const impl = socketFrom(command.localAddress);
      // A user's first connection costs the server a password check (scrypt on its thread pool);
      // the benchmark sends first connections in small `open` commands, the rest in batches.
      for (let i = 0; i < command.subscribers.length; i += CONNECT_BATCH) {
        await Promise.all(
          command.subscribers.slice(i, i + CONNECT_BATCH).map(({ role, credential, query }) => open(command.url, impl, role, credential, query)),
        );
      }
      return subscribers.length;
    }
    case 'measure':
      measuring = command.on;
      if (command.on) {
        receipts = [];
        for (const subscriber of subscribers) subscriber.received = 0;
        cpuAtStart = process.cpuUsage();
      } else {
        const cpu = process.cpuUsage(cpuAtStart);
        cpuMicros = cpu.user + cpu.system;
      }
      return null;
    case 'progress': {
      const counts = subscribers.filter((subscriber) => subscriber.role === 'scheduler').map((subscriber) => subscriber.received);
      const progress: ClientProgress = { schedulers: counts.length, schedulerMin: counts.length ? Math.min(...counts) : Infinity };
      return progress;
    }
    case 'collect': {
      const result: ClientReceipts = {
        receipts,
        cpuMicros,
        subscriptionErrors,
        retries,
        schedulerCounts: subscribers.filter((subscriber) => subscriber.role === 'scheduler').map((subscriber) => subscriber.received),
      };
      receipts = [];
      return result;
    }
    case 'profile':
      return command.file ? profiler.stop(command.file) : profiler.start();
    case 'close':
      await Promise.all(subscribers.map((subscriber) => subscriber.client.dispose()));
      return null;
  }
}

process.on('message', (envelope: ClientEnvelope) => {
  handle(envelope.command).then(
    (result) => {
      const reply: Reply = { id: envelope.id, result };
      process.send?.(reply);
      if (envelope.command.type === 'close') setImmediate(() => process.exit(0));
    },
    (error: unknown) => process.send?.({ id: envelope.id, error: error instanceof Error ? error.stack : String(error) }),
  );
});
// The benchmark went away: never outlive it.
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready' });
