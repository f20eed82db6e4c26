import { EntityManager } from '@mikro-orm/core';
import { forbidden, notFound } from '../../shared/errors';
import { parseUuid } from '../../shared/ids';
import { validateText } from '../../shared/text';
import { TicketEventKind } from '../event/ticket-change';
import { assertCan, MESSAGES, TicketOperation } from '../ticket/ticket.rules';
import { TicketService } from '../ticket/ticket.service';
import { Viewer } from '../user/viewer';
import { Reply } from './reply.entity';

/** Replies on tickets; writes go through the ticket service's transaction and change path. */
export class ReplyService {
  constructor(private readonly tickets: TicketService) {}

  /** Adds a reply as the viewer; the ticket's row lock orders it against a concurrent close. */
  async add(
    em: EntityManager,
    viewer: Viewer,
    ticketId: string,
    content: unknown,
  ): Promise<{ id: string; ticketId: string; content: string; createdAt: number }> {
    const id = parseUuid(ticketId, 'ticketId');
    const text = validateText(content, 'content');
    return this.tickets.write(em, async (tem, changes) => {
      const ticket = await this.tickets.lock(tem, id);
      assertCan(viewer, TicketOperation.REPLY, ticket);
      const reply = tem.create(Reply, { ticketId: id, authorId: viewer.id, content: text });
      tem.persist(reply);
      // A reply is a change subscribers see: the ticket's updatedAt moves with it.
      ticket.updatedAt = reply.createdAt;
      changes.push({ kind: TicketEventKind.REPLY_ADDED, ticketId: id, actorId: viewer.id, replyId: reply.id, at: reply.createdAt });
      return { id: reply.id, ticketId: id, content: text, createdAt: reply.createdAt.getTime() };
    });
  }

  /**
   * Deletes one of the viewer's own replies. With `ticketId` (the legacy endpoint names both),
   * a reply of another ticket is NOT_FOUND. Returns the reply's ticket id.
   */
  async delete(em: EntityManager, viewer: Viewer, replyId: string, ticketId?: string): Promise<string> {
    const id = parseUuid(replyId, 'replyId');
    const expectedTicket = ticketId === undefined ? undefined : parseUuid(ticketId, 'ticketId');
    return this.tickets.write(em, async (tem, changes) => {
      const reply = await tem.findOne(Reply, { id, deletedAt: null });
      if (!reply || (expectedTicket !== undefined && reply.ticketId !== expectedTicket)) {
        throw notFound('Reply not found');
      }
      // Lock the ticket so the deletion and its event are ordered with the ticket's other changes.
      const ticket = await this.tickets.lock(tem, reply.ticketId);
      if (reply.authorId !== viewer.id) throw forbidden(MESSAGES.deleteReply);
      reply.deletedAt = new Date();
      ticket.updatedAt = reply.deletedAt;
      changes.push({ kind: TicketEventKind.REPLY_DELETED, ticketId: reply.ticketId, actorId: viewer.id, replyId: id, at: reply.deletedAt });
      return reply.ticketId;
    });
  }
}
