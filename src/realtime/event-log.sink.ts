import type { EntityManager } from '@mikro-orm/core';
import type { EventLog } from '../modules/event/event-log';
import type { ChangeSink, TicketChange } from '../modules/event/ticket-change';
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
    const seq = await this.log.append(tem, change);
    this.seqs.set(change, seq);
    await this.bus.announceInTransaction(tem, { seq, ticketId: change.ticketId });
  }

  committed(change: TicketChange): void {
    const seq = this.seqs.get(change);
    if (seq === undefined) return;
    this.seqs.delete(change);
    this.observer?.eventWritten();
    this.bus.announceCommitted({ seq, ticketId: change.ticketId });
  }
}
