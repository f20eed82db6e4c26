import type { EntityManager } from '@mikro-orm/core';
import type { UserChange } from '../modules/user/user-change';
import type { LoggedEvent } from '../modules/event/event-log';
import type { TicketView } from '../modules/ticket/ticket.query';

/**
 * How server processes tell each other "the event log has grown". A note carries only the seq
 * (and ticket id) of the new event: receivers read the event itself from the log, so a note
 * that is lost, duplicated or late costs latency at worst, never an event (the hub reads
 * everything after the last seq it has seen, whatever note woke it).
 */
export interface EventNote {
  readonly seq: number;
  readonly ticketId: string;
  /**
   * In this process only, never on the wire: the committed event as its writer knows it, so the
   * hub can fan it out without reading it back (event-hub.ts decides when that is safe).
   */
  readonly local?: { readonly event: LoggedEvent; readonly ticket: TicketView };
}

/**
 * Called for every note from any process sharing the database, this one included; called with
 * no note when notes may have been missed (a reconnect), so the receiver reads the log anyway.
 */
export type NoteListener = (note?: EventNote) => void;

/**
 * Called for every change to a user from any process sharing the database, this one included;
 * called with nothing when changes may have been missed (a reconnect): the receiver then checks
 * everything it holds (realtime/user-changes.ts).
 */
export type UserChangeListener = (change?: UserChange) => void;

/** Logs what a bus cannot throw to anyone (a lost connection, a failed publish). */
export interface BusLogger {
  warn(object: object, message: string): void;
  info(object: object, message: string): void;
}

/**
 * One interface, three implementations: in-process (the embedded database, one process),
 * PostgreSQL LISTEN/NOTIFY (`DATABASE_URL`), Redis pub/sub (`REDIS_URL`).
 */
export interface EventBus {
  readonly kind: 'in-process' | 'postgres' | 'redis';
  /**
   * PostgreSQL: the NOTIFY channel. A writer queues its note in the statement that appends the
   * event (EventLog.append, appendWithStatement), and the server delivers it only if and when the
   * transaction commits. Undefined for the other buses, which announce after the commit.
   */
  readonly notifyChannel?: string;
  /** After the commit. Every bus also wakes this process's own listeners here, at once. */
  announceCommitted(note: EventNote): void;
  /** Registers the (single) receiver of notes. */
  listen(listener: NoteListener): void;
  /** Resolves once the bus receives notes from other processes (connected and subscribed). */
  ready(): Promise<void>;
  close(): Promise<void>;
  /**
   * Changes to users (roles, deactivation, passwords, revoked sessions) travel the same way as
   * ticket notes, on a channel of their own: queued inside the writing transaction (PostgreSQL),
   * announced after the commit (this process at once; Redis publishes).
   */
  announceUserChangeInTransaction(tem: EntityManager, change: UserChange): Promise<void>;
  announceUserChangeCommitted(change: UserChange): void;
  /** Registers the (single) receiver of user changes. */
  listenUserChanges(listener: UserChangeListener): void;
}

/** The part every implementation shares: the local listener and its immediate wake-up. */
export abstract class BaseEventBus implements EventBus {
  abstract readonly kind: EventBus['kind'];
  private listener: NoteListener = () => undefined;
  private userListener: UserChangeListener = () => undefined;

  listen(listener: NoteListener): void {
    this.listener = listener;
  }

  listenUserChanges(listener: UserChangeListener): void {
    this.userListener = listener;
  }

  protected deliverUserChange(change?: UserChange): void {
    this.userListener(change);
  }

  async announceUserChangeInTransaction(_tem: EntityManager, _change: UserChange): Promise<void> {}

  announceUserChangeCommitted(change: UserChange): void {
    this.deliverUserChange(change);
  }

  protected deliver(note?: EventNote): void {
    this.listener(note);
  }

  announceCommitted(note: EventNote): void {
    this.deliver(note);
  }

  async ready(): Promise<void> {}

  async close(): Promise<void> {}
}

/** Parses a note's wire form `<seq>:<ticketId>`; undefined for anything else. */
export function parseNote(payload: string): EventNote | undefined {
  const match = /^([1-9][0-9]{0,15}):([0-9a-f-]{36})$/.exec(payload);
  if (!match) return undefined;
  const seq = Number(match[1]);
  return Number.isSafeInteger(seq) ? { seq, ticketId: match[2] } : undefined;
}

export const formatNote = (note: EventNote): string => `${note.seq}:${note.ticketId}`;
