import type { EntityManager } from '@mikro-orm/core';
import type { EventLog } from '../modules/event/event-log';
import type { ChangeSink, ChangeWrites, RecordWith, TicketChange } from '../modules/event/ticket-change';
import type { EventBus } from './event-bus';
import { LocalWrites } from './local-writes';
import type { LiveObserver } from '../metrics/observers';

/**
 * Where the services' changes go: into the event log inside their transaction (so a change and
 * its event commit or roll back together), and onto the bus after the commit.
 *
 * Each change is a local write (local-writes.ts) from just before the statement that appends its
 * event until its note is published or its transaction fails, so the hub can tell its own
 * PostgreSQL NOTIFY, which may arrive first, from another process's.
 */
export class EventLogSink implements ChangeSink {
  /** The seq each recorded change got and its local write, until its commit or failure is reported. */
  private readonly recorded = new WeakMap<TicketChange, { seq?: number; write: number }>();

  constructor(
    private readonly log: EventLog,
    private readonly bus: EventBus,
    private readonly observer?: LiveObserver,
    private readonly writes = new LocalWrites(),
  ) {}

  async record(tem: EntityManager, change: TicketChange): Promise<void> {
    const entry = this.begin(change);
    try {
      // PostgreSQL's NOTIFY rides in the statement; the other buses announce after the commit.
      entry.seq = await this.log.append(tem, change, this.bus.notifyChannel);
    } catch (error) {
      this.failed(change);
      throw error;
    }
  }

  recordWith(change: TicketChange, writes: ChangeWrites): RecordWith {
    // Begun now, before the caller sends the statement: its NOTIFY may arrive before its answer.
    const entry = this.begin(change);
    // PostgreSQL's NOTIFY rides in the same statement; the other buses announce after the commit
    // (their in-transaction announcement is nothing).
    const statement = this.log.appendWithStatement(change, writes, this.bus.notifyChannel);
    return {
      statement,
      settle: (rows) => {
        try {
          entry.seq = this.log.appendedSeq(rows);
        } catch (error) {
          this.failed(change);
          throw error;
        }
        if (entry.seq === undefined) this.failed(change);
        return entry.seq !== undefined;
      },
    };
  }

  committed(change: TicketChange): void {
    const entry = this.recorded.get(change);
    if (!entry) return;
    this.recorded.delete(change);
    const { seq } = entry;
    if (seq !== undefined) {
      this.observer?.eventWritten();
      const { outcome } = change;
      const local = outcome && {
        event: { seq, kind: change.kind, ticketId: change.ticketId, actor: outcome.actor, reply: outcome.reply, at: change.at.getTime() },
        ticket: outcome.ticket,
      };
      this.bus.announceCommitted({ seq, ticketId: change.ticketId, local });
    }
    // After the note: the hub has it before it stops waiting for this write.
    this.writes.end(entry.write);
  }

  failed(change: TicketChange): void {
    const entry = this.recorded.get(change);
    if (!entry) return;
    this.recorded.delete(change);
    this.writes.end(entry.write);
  }

  private begin(change: TicketChange): { seq?: number; write: number } {
    const previous = this.recorded.get(change);
    if (previous) this.writes.end(previous.write);
    const entry: { seq?: number; write: number } = { write: this.writes.begin() };
    this.recorded.set(change, entry);
    return entry;
  }
}
