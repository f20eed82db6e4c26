import { Redis } from 'ioredis';
import { formatUserChange, parseUserChange, type UserChange } from '../modules/user/user-change';
import { BaseEventBus, BusLogger, EventNote, formatNote, parseNote } from './event-bus';

/** How long start-up waits for Redis before refusing to start. */
const READY_TIMEOUT_MS = 10_000;

/**
 * Redis pub/sub, for deployments that outgrow one database's notification channel. Two
 * connections, because a connection in subscriber mode can do nothing else: one publishes after
 * each commit, one subscribes. ioredis reconnects and resubscribes by itself; each time the
 * subscriber is ready again the hub is woken once, since notes published meanwhile are gone
 * (the events are not: they are in the log).
 *
 * Pub/sub delivers at most once, and a process that dies between its commit and its publish
 * announces nothing: the hub's periodic poll of the log bounds how late such an event can be.
 */
export class RedisEventBus extends BaseEventBus {
  readonly kind = 'redis' as const;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly subscribed: Promise<void>;
  private closed = false;
  private connectedOnce = false;
  /** Changes to users (user-change.ts), beside the ticket notes. */
  private readonly userChannel: string;

  constructor(
    url: string,
    /** Per database, so servers of different databases sharing a Redis do not wake each other. */
    private readonly channel: string,
    private readonly log: BusLogger,
    /** Shown by Redis' CLIENT LIST. */
    connectionName = 'helpdesk-events',
  ) {
    super();
    this.userChannel = `${channel}:user-changes`;
    const options = {
      lazyConnect: true,
      maxRetriesPerRequest: 2,
      connectionName,
      // Start-up fails at once when Redis is not there; once up, lost connections are retried forever.
      retryStrategy: (attempt: number) => (this.connectedOnce ? Math.min(attempt * 100, 2_000) : null),
    };
    this.publisher = new Redis(url, options);
    this.subscriber = new Redis(url, options);
    for (const connection of [this.publisher, this.subscriber]) {
      connection.on('error', (error: Error) => {
        if (!this.closed) this.log.warn({ err: error }, 'redis event bus connection error');
      });
    }
    this.subscriber.on('message', (channel: string, payload: string) => {
      if (channel === this.channel) this.deliver(parseNote(payload));
      else if (channel === this.userChannel) this.deliverUserChange(parseUserChange(payload));
    });
    this.subscribed = this.connect();
    this.subscribed.catch(() => undefined);
  }

  override ready(): Promise<void> {
    return this.subscribed;
  }

  override announceCommitted(note: EventNote): void {
    super.announceCommitted(note);
    this.publisher.publish(this.channel, formatNote(note)).catch((error: unknown) => {
      this.log.warn({ err: error, seq: note.seq }, 'could not publish an event note to redis');
    });
  }

  override announceUserChangeCommitted(change: UserChange): void {
    super.announceUserChangeCommitted(change);
    this.publisher.publish(this.userChannel, formatUserChange(change)).catch((error: unknown) => {
      this.log.warn({ err: error, userId: change.userId }, 'could not publish a user change to redis');
    });
  }

  override async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [this.publisher, this.subscriber].map(async (connection) => {
        // QUIT lets a live connection finish what it sends; one that is down just stops retrying.
        if (connection.status === 'ready') await connection.quit().catch(() => undefined);
        // (disconnecting an ended connection would hold the process open for two seconds)
        if (connection.status !== 'end') connection.disconnect();
      }),
    );
  }

  private async connect(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    });
    try {
      await Promise.race([
        (async () => {
          await Promise.all([this.publisher.connect(), this.subscriber.connect()]);
          await this.subscriber.subscribe(this.channel, this.userChannel);
        })(),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
    this.connectedOnce = true;
    // Later 'ready' events are reconnects (ioredis resubscribes by itself): read the log once.
    this.subscriber.on('ready', () => {
      if (this.closed) return;
      this.log.info({}, 'redis event bus reconnected');
      this.deliver();
      this.deliverUserChange();
    });
  }
}
