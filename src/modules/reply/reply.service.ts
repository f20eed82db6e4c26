import { EntityManager } from '@mikro-orm/core';
import { DEFAULT_LIMITS } from '../../config';
import { conflict, forbidden, notFound } from '../../shared/errors';
import { parseUuid } from '../../shared/ids';
import { validateText } from '../../shared/text';
import { TicketEventKind } from '../event/ticket-change';
import { assertCan, MESSAGES, TicketOperation } from '../ticket/ticket.rules';
import { lockTicket, TicketUnitOfWork } from '../ticket/ticket-unit-of-work';
import type { ChangeSink } from '../event/ticket-change';
import { Viewer } from '../user/viewer';
import { Reply } from './reply.entity';

export interface ReplyServiceOptions {
  /**
   * Replies (not deleted) one ticket may hold; the next one is refused with CONFLICT. Every
   * reader of the ticket gets all its replies, so this bounds what one customer's chatter costs
   * every scheduler's page.
   */
  readonly maxRepliesPerTicket?: number;
}

/** Replies on tickets; writes take the same path as the ticket's own (ticket-unit-of-work.ts). */
export class ReplyService {
  private readonly maxRepliesPerTicket: number;
  private readonly unit: TicketUnitOfWork;

  constructor(changes: ChangeSink, options: ReplyServiceOptions = {}) {
    this.unit = new TicketUnitOfWork(changes);
    this.maxRepliesPerTicket = options.maxRepliesPerTicket ?? DEFAULT_LIMITS.maxRepliesPerTicket;
  }

  /**
   * Adds a reply as the viewer; the ticket's row lock orders it against a concurrent close and
   * makes the count of its replies exact, so the cap holds under concurrent replies.
   */
  async add(
    em: EntityManager,
    viewer: Viewer,
    ticketId: string,
    content: unknown,
  ): Promise<{ id: string; ticketId: string; content: string; createdAt: number }> {
    const id = parseUuid(ticketId, 'ticketId');
    const text = validateText(content, 'content');
    return this.unit.run(em, async (tem, changes) => {
      const ticket = await lockTicket(tem, id);
      assertCan(viewer, TicketOperation.REPLY, ticket);
      // One customer's chatter must not grow every reader's page of this ticket without limit.
      const [{ count }] = await tem
        .getConnection()
        .execute<Array<{ count: number }>>(
          'select count(*)::integer as count from replies where ticket_id = ? and deleted_at is null',
          [id],
          'all',
          tem.getTransactionContext(),
        );
      if (count >= this.maxRepliesPerTicket) {
        throw conflict(`This ticket has reached its limit of ${this.maxRepliesPerTicket} replies; no more replies can be added`);
      }
      const reply = tem.create(Reply, { ticketId: id, authorId: viewer.id, content: text });
      tem.persist(reply);
      // A reply is a change subscribers see: the ticket's updatedAt moves with it.
      ticket.updatedAt = reply.createdAt;
      changes.push({ kind: TicketEventKind.REPLY_ADDED, ticketId: id, actorId: viewer.id, replyId: reply.id, at: reply.createdAt });
      return { id: reply.id, ticketId: id, content: text, createdAt: reply.createdAt.getTime() };
    });
  }

  /**
   * Deletes one of the viewer's own replies and erases its text. With `ticketId` (the legacy
   * endpoint names both), a reply of another ticket is NOT_FOUND. Returns the reply's ticket id.
   *
   * Lock first, then decide: the first read only finds the ticket to lock; once its row lock is
   * held, one conditional update (`… where deleted_at is null`) marks the reply deleted. Of
   * several concurrent deletions of one reply exactly one updates the row and records
   * REPLY_DELETED; the others find it gone (NOT_FOUND) and write nothing.
   */
  async delete(em: EntityManager, viewer: Viewer, replyId: string, ticketId?: string): Promise<string> {
    const id = parseUuid(replyId, 'replyId');
    const expectedTicket = ticketId === undefined ? undefined : parseUuid(ticketId, 'ticketId');
    return this.unit.run(em, async (tem, changes) => {
      const connection = tem.getConnection();
      const [found] = await connection.execute<Array<{ ticket_id: string; author_id: number }>>(
        'select ticket_id, author_id from replies where id = ? and deleted_at is null',
        [id],
        'all',
        tem.getTransactionContext(),
      );
      if (!found || (expectedTicket !== undefined && found.ticket_id !== expectedTicket)) throw notFound('Reply not found');
      // The ticket's lock orders the deletion and its event with the ticket's other changes.
      const ticket = await lockTicket(tem, found.ticket_id);
      if (found.author_id !== viewer.id) throw forbidden(MESSAGES.deleteReply);
      const at = new Date();
      const erased = await connection.execute<Array<{ id: string }>>(
        'update replies set deleted_at = ?, content = null where id = ? and deleted_at is null returning id',
        [at, id],
        'all',
        tem.getTransactionContext(),
      );
      // Another request deleted it while this one waited for the lock.
      if (!erased.length) throw notFound('Reply not found');
      // A deletion is a change subscribers see: the ticket's updatedAt moves with it.
      ticket.updatedAt = at;
      changes.push({ kind: TicketEventKind.REPLY_DELETED, ticketId: found.ticket_id, actorId: viewer.id, replyId: id, at });
      return found.ticket_id;
    });
  }
}
