import WebSocket, { type RawData } from 'ws';
import { WindowProfiler } from './live-profile';
import { wallClock, type ClientCommand, type ClientEnvelope, type ClientProgress, type ClientReceipts, type Reply } from './live-ipc';

/**
 * One process of the live benchmark's load side: it holds a share of the subscribers (real
 * graphql-ws sockets, each with its own subscription) and notes the instant each event arrives.
 * The benchmark spreads the subscribers over several of these processes: one process may hold no
 * more sockets than its file-descriptor limit, and one source address has ~28,000 ephemeral
 * ports toward one server port, so each process connects from a loopback address of its own
 * (127.0.0.x).
 *
 * The subscribers speak the graphql-transport-ws protocol themselves (over `ws`) instead of
 * through graphql-ws's client: these processes share the machine's cores with the servers they
 * measure, and the client's parse and validation of every whole message cost more CPU than the
 * server's delivery. A `next` message is recognised by its first bytes, which carry the
 * subscription's own id and the event's cursor (what the measurement needs); one that does not
 * start as expected is parsed and checked in full, so a delivery is still counted only for the
 * subscription it names.
 */

interface Subscriber {
  readonly role: string;
  readonly socket: WebSocket;
  /** Events received during the measured window. */
  received: number;
}

const CONNECT_BATCH = 250;
const subscribers: Subscriber[] = [];
let measuring = false;
let receipts: number[] = [];
let subscriptionErrors = 0;
/** Messages that did not start as a next message of their subscription and were parsed in full. */
let parsedInFull = 0;
let cpuAtStart = process.cpuUsage();
/** This process's CPU over the measured window, in µs (noted when it ends). */
let cpuMicros = 0;
/** Set when the benchmark closes the subscribers: their closes are not errors. */
let closing = false;
/** Each socket's subscription id, distinct over this process (the server echoes it in every message). */
let nextId = 1;

const seqOf = (cursor: string): number => Number(Buffer.from(cursor, 'base64url').toString('utf8').slice('event:'.length));

/** Connections that failed to open and were tried again (a busy machine can miss graphql-ws's 3 s init wait). */
let retries = 0;
const MAX_TRIES = 4;
const QUOTE = 0x22;

async function open(url: string, localAddress: string, role: string, credential: string, query: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await openOnce(url, localAddress, role, credential, query);
    } catch (error) {
      if (attempt >= MAX_TRIES) throw error;
      retries++;
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
    }
  }
}

/** Notes one event's receipt (its seq and the instant) for a subscriber, if measuring. */
function receive(subscriber: Subscriber, cursor: string): void {
  if (!measuring) return;
  receipts.push(seqOf(cursor), wallClock());
  subscriber.received++;
}

/**
 * A message that is not a next message of the expected shape: parsed and checked in full. A next
 * message counts for the subscriber only if it carries its subscription's id and an event.
 */
function slowPath(subscriber: Subscriber, id: string, data: RawData, opened: boolean): void {
  parsedInFull++;
  let message: { id?: unknown; type?: unknown; payload?: { data?: { ticketEvents?: { cursor?: unknown } }; errors?: unknown } };
  try {
    message = JSON.parse(String(data)) as typeof message;
  } catch {
    subscriptionErrors++;
    return;
  }
  if (message.type === 'ping') return subscriber.socket.send('{"type":"pong"}');
  if (message.type === 'pong') return;
  if (message.id !== id) {
    subscriptionErrors++;
    return;
  }
  const cursor = message.payload?.data?.ticketEvents?.cursor;
  if (message.type === 'next' && typeof cursor === 'string' && !message.payload?.errors) return receive(subscriber, cursor);
  // An error, a completion, or a next message without an event: the subscription failed.
  if (opened) subscriptionErrors++;
}

function openOnce(url: string, localAddress: string, role: string, credential: string, query: string): Promise<void> {
  const id = `s${nextId++}`;
  // What a next message of this subscription starts with, up to its cursor's first character.
  const prefix = Buffer.from(`{"id":${JSON.stringify(id)},"type":"next","payload":{"data":{"ticketEvents":{"cursor":"`);
  const socket = new WebSocket(url, 'graphql-transport-ws', { localAddress, perMessageDeflate: false });
  const subscriber: Subscriber = { role, socket, received: 0 };
  let acknowledged = false;
  let opened = false;
  return new Promise<void>((resolve, reject) => {
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { credential } })));
    socket.on('error', (error) => {
      if (!opened) reject(error);
    });
    socket.on('close', (code, reason) => {
      if (!opened) reject(new Error(`a subscriber's connection closed: ${code} ${String(reason)}`));
      else if (!closing) subscriptionErrors++;
    });
    socket.on('message', (data: Buffer, isBinary) => {
      // The common case: a next message of this subscription, recognised by its first bytes.
      if (!isBinary && opened && data.length > prefix.length && prefix.compare(data, 0, prefix.length) === 0) {
        const end = data.indexOf(QUOTE, prefix.length);
        if (end > prefix.length) return receive(subscriber, data.toString('latin1', prefix.length, end));
      }
      if (!acknowledged) {
        let message: { type?: unknown };
        try {
          message = JSON.parse(String(data)) as { type?: unknown };
        } catch {
          message = {};
        }
        if (message.type !== 'connection_ack') return void socket.close(4400, 'expected connection_ack');
        acknowledged = true;
        socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query } }));
        opened = true;
        subscribers.push(subscriber);
        return resolve();
      }
      slowPath(subscriber, id, data, opened);
    });
  }).catch((error: unknown) => {
    socket.terminate();
    throw error;
  });
}

const profiler = new WindowProfiler();

async function handle(command: ClientCommand): Promise<unknown> {
  switch (command.type) {
    case 'open': {
      // A user's first connection costs the server a password check (scrypt on its thread pool);
      // the benchmark sends first connections in small `open` commands, the rest in batches.
      for (let i = 0; i < command.subscribers.length; i += CONNECT_BATCH) {
        await Promise.all(
          command.subscribers
            .slice(i, i + CONNECT_BATCH)
            .map(({ role, credential, query }) => open(command.url, command.localAddress, role, credential, query)),
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
        parsedInFull,
        retries,
        schedulerCounts: subscribers.filter((subscriber) => subscriber.role === 'scheduler').map((subscriber) => subscriber.received),
      };
      receipts = [];
      return result;
    }
    case 'profile':
      return command.file ? profiler.stop(command.file) : profiler.start();
    case 'close':
      closing = true;
      await Promise.all(
        subscribers.map(
          ({ socket }) =>
            new Promise<void>((resolve) => {
              if (socket.readyState === socket.CLOSED) return resolve();
              socket.once('close', () => resolve());
              socket.close(1000, 'bench done');
            }),
        ),
      );
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
