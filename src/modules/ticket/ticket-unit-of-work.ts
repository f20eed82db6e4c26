import { EntityManager, LockMode } from '@mikro-orm/core';
import { notFound } from '../../shared/errors';
import type { ChangeSink, TicketChange } from '../event/ticket-change';
import { Ticket } from './ticket.entity';

/** Loads a ticket for change, holding its row lock until the transaction ends. */
export async function lockTicket(tem: EntityManager, id: string): Promise<Ticket> {
  const ticket = await tem.findOne(Ticket, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  if (!ticket) throw notFound('Ticket not found');
  return ticket;
}

/**
 * The write path of everything that changes a ticket (its status and content, its replies): one
 * transaction that flushes the work and records the changes it reports, then publishes them
 * after the commit (or reports them failed). The ticket and reply services each hold one over the same change sink.
 */
export class TicketUnitOfWork {
  constructor(private readonly changes: ChangeSink) {}

  /**
   * `afterFlush` runs inside the transaction once the work is flushed, before the changes are
   * recorded: where a write reads what it left (the ticket for its change's outcome).
   */
  async run<T>(
    em: EntityManager,
    work: (tem: EntityManager, changes: TicketChange[]) => Promise<T>,
    afterFlush?: (tem: EntityManager, changes: TicketChange[]) => Promise<void>,
  ): Promise<T> {
    const changes: TicketChange[] = [];
    let result: T;
    try {
      result = await em.transactional(async (tem) => {
        const value = await work(tem, changes);
        await tem.flush();
        await afterFlush?.(tem, changes);
        for (const change of changes) await this.changes.record(tem, change);
        return value;
      });
    } catch (error) {
      for (const change of changes) this.changes.failed(change);
      throw error;
    }
    for (const change of changes) this.changes.committed(change);
    return result;
  }
}
