import type { EntityManager } from '@mikro-orm/core';
import type { EventLog } from '../modules/event/event-log';
import type { ChangeSink, ChangeWrites, TicketChange } from '../modules/event/ticket-change';
import type { EventBus } from './event-bus';
import type { LiveObserver } from '../metrics/observers';

/**
 * Where the services' changes go: into the event log inside their transaction (so a change and
 * its event commit or roll back together), and onto the bus after the commit.
 */
export class EventLogSink implements ChangeSink {
  /** The seq each recorded change got, until its commit is reported. */
  private readonly seqs = new WeakMap<TicketChange, number>();

  constructor(
    private readonly log: EventLog,
    private readonly bus: EventBus,
    private readonly observer?: LiveObserver,
  ) {}

  async record(tem: EntityManager, change: TicketChange): Promise<void> {
    const seq = await this.log.append(tem, change, this.bus.notifyChannel);
    this.seqs.set(change, seq);
    if (this.bus.notifyChannel === undefined) await this.bus.announceInTransaction(tem, { seq, ticketId: change.ticketId });
  }

  async recordWith(tem: EntityManager, change: TicketChange, writes: ChangeWrites): Promise<boolean> {
    // PostgreSQL's NOTIFY rides in the same statement; other buses announce after the commit.
    const seq = await this.log.appendWith(tem, change, writes, this.bus.notifyChannel);
    if (seq === undefined) return false;
    this.seqs.set(change, seq);
    if (this.bus.notifyChannel === undefined) await this.bus.announceInTransaction(tem, { seq, ticketId: change.ticketId });
    return true;
  }

  committed(change: TicketChange): void {
    const seq = this.seqs.get(change);
    if (seq === undefined) return;
    this.seqs.delete(change);
    this.observer?.eventWritten();
    const { outcome } = change;
    const local = outcome && {
      event: { seq, kind: change.kind, ticketId: change.ticketId, actor: outcome.actor, reply: outcome.reply, at: change.at.getTime() },
      ticket: outcome.ticket,
    };
    this.bus.announceCommitted({ seq, ticketId: change.ticketId, local });
  }
}
