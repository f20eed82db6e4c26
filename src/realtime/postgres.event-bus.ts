import type { EntityManager } from '@mikro-orm/core';
import { Client } from 'pg';
import { execute } from '../db/sql';
import { formatUserChange, parseUserChange, type UserChange } from '../modules/user/user-change';
import { BaseEventBus, BusLogger, parseNote } from './event-bus';

/** The notification channel; NOTIFY is scoped to one database, so one name serves all. */
export const POSTGRES_CHANNEL = 'helpdesk_ticket_events';
/** Changes to users (user-change.ts). */
export const POSTGRES_USER_CHANNEL = 'helpdesk_user_changes';

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

/**
 * PostgreSQL LISTEN/NOTIFY. The writer's transaction issues `pg_notify` after inserting the
 * event, and the server delivers it to every listening session only when (and if) that
 * transaction commits, in commit order. Each process listens on one dedicated `pg` client,
 * outside the ORM's pool (a pooled connection would be handed to other work); when that
 * connection drops it reconnects with backoff and then wakes the hub once, since notes sent
 * meanwhile were lost (the hub reads the log, so the events themselves are not).
 */
export class PostgresEventBus extends BaseEventBus {
  readonly kind = 'postgres' as const;
  readonly notifyChannel = POSTGRES_CHANNEL;
  private client: Client | undefined;
  private closed = false;
  private reconnectDelay = RECONNECT_MIN_MS;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly firstConnect: Promise<void>;

  constructor(
    private readonly databaseUrl: string,
    private readonly log: BusLogger,
  ) {
    super();
    this.firstConnect = this.connect();
  }

  override ready(): Promise<void> {
    return this.firstConnect;
  }

  override async announceUserChangeInTransaction(tem: EntityManager, change: UserChange): Promise<void> {
    await execute(tem, 'select pg_notify(?, ?)', [POSTGRES_USER_CHANNEL, formatUserChange(change)]);
  }

  override async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.databaseUrl, application_name: 'helpdesk-listener' });
    // Registered before connecting: an error on an idle client must not crash the process.
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => {
      if (message.channel === POSTGRES_USER_CHANNEL) {
        // One we cannot read still means "something about users changed": check everything.
        this.deliverUserChange(message.payload ? parseUserChange(message.payload) : undefined);
        return;
      }
      if (message.channel !== POSTGRES_CHANNEL) return;
      const note = message.payload ? parseNote(message.payload) : undefined;
      // A payload we cannot read still means "the log grew".
      this.deliver(note);
    });
    await client.connect();
    await client.query(`listen ${POSTGRES_CHANNEL}`);
    await client.query(`listen ${POSTGRES_USER_CHANNEL}`);
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.reconnectDelay = RECONNECT_MIN_MS;
  }

  private lost(client: Client, error?: Error): void {
    if (this.closed || this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    this.log.warn({ err: error }, 'event listener connection lost; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
    this.reconnectTimer = setTimeout(() => {
      this.connect().then(
        () => {
          if (this.closed) return;
          this.log.info({}, 'event listener reconnected');
          this.deliver();
          this.deliverUserChange();
        },
        (error: unknown) => {
          this.log.warn({ err: error }, 'event listener reconnect failed');
          this.scheduleReconnect();
        },
      );
    }, delay);
    this.reconnectTimer.unref();
  }
}
