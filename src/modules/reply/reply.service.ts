import { EntityManager } from '@mikro-orm/core';
import { execute } from '../../db/sql';
import { DEFAULT_LIMITS } from '../../config';
import { conflict, forbidden, notFound } from '../../shared/errors';
import { parseUuid } from '../../shared/ids';
import { validateText } from '../../shared/text';
import { type ChangeSink, TicketEventKind } from '../event/ticket-change';
import { TicketReader } from '../ticket/ticket.query';
import { uuidv7 } from '../../shared/uuid';
import { assertCan, MESSAGES, TicketOperation } from '../ticket/ticket.rules';
import { lockedWriteConditionSql, lockTicket, TicketUnitOfWork, writeLocked, type PlannedChange } from '../ticket/ticket-unit-of-work';
import { Viewer } from '../user/viewer';

export interface ReplyServiceOptions {
  /**
   * Replies (not deleted) one ticket may hold; the next one is refused with CONFLICT. Every
   * reader of the ticket gets all its replies, so this bounds what one customer's chatter costs
   * every scheduler's page.
   */
  readonly maxRepliesPerTicket?: number;
}

/** Replies on tickets; writes take the same path as the ticket's own (ticket-unit-of-work.ts, or one statement with the event). */
export class ReplyService {
  private readonly maxRepliesPerTicket: number;
  private readonly unit: TicketUnitOfWork;
  private readonly reader = new TicketReader();

  constructor(
    private readonly changes: ChangeSink,
    options: ReplyServiceOptions = {},
  ) {
    this.unit = new TicketUnitOfWork(changes);
    this.maxRepliesPerTicket = options.maxRepliesPerTicket ?? DEFAULT_LIMITS.maxRepliesPerTicket;
  }

  /**
   * Adds a reply as the viewer; the ticket's row lock orders it against a concurrent close and
   * keeps the count of its replies exact, so the cap holds under concurrent replies.
   *
   * One round trip (ticket-unit-of-work.ts `writeLocked`): the statement that locks and reads the
   * ticket, and the statement that inserts the reply only where the rule table allows the
   * viewer to reply to the locked row (ticket.rules.sql.ts) and the ticket holds fewer replies
   * than the cap (its row's `reply_count`, read by that statement, whose snapshot is taken after
   * the lock was granted, so it counts every reply committed before; the database's trigger moves
   * it with every reply written), moves the ticket's updatedAt and appends the event, in one
   * message, one implicit transaction. The rule table then words a refusal from the row as read;
   * an allowed reply that was not written met the cap. A refusal writes nothing.
   */
  async add(
    em: EntityManager,
    viewer: Viewer,
    ticketId: string,
    content: unknown,
  ): Promise<{ id: string; ticketId: string; content: string; createdAt: number }> {
    const id = parseUuid(ticketId, 'ticketId');
    const text = validateText(content, 'content');
    return writeLocked(em, this.changes, {
      viewer,
      operation: TicketOperation.REPLY,
      lock: this.reader.lockStatement(id, {}),
      decide: (rows) => {
        const locked = this.reader.lockedTicket(rows, {});
        if (!locked) throw notFound('Ticket not found');
        assertCan(viewer, TicketOperation.REPLY, locked.ticket);
        return locked.ticket;
      },
      plan: (at, _decided, condition): PlannedChange => {
        const replyId = uuidv7(at.getTime());
        return {
          change: { kind: TicketEventKind.REPLY_ADDED, ticketId: id, actorId: viewer.id, replyId, at },
          writes: {
            ctes: REPLY_CTES,
            // A reply is a change subscribers see: the ticket's updatedAt moves with it.
            params: [replyId, id, viewer.id, text, at, id, ...condition, this.maxRepliesPerTicket, at, id],
            gate: 'reply',
          },
        };
      },
      answer: (ticket, { change }, written) => {
        if (!written) {
          throw conflict(`This ticket has reached its limit of ${this.maxRepliesPerTicket} replies; no more replies can be added`);
        }
        const actor = { id: viewer.id, username: viewer.username, roles: [...viewer.roles] };
        const createdAt = change.at.getTime();
        const replyId = change.replyId!;
        // The ticket as this transaction leaves it; its replies were not read, so none are claimed.
        change.outcome = {
          ticket: { ...ticket, updatedAt: createdAt },
          actor,
          reply: { id: replyId, ticketId: id, content: text, createdAt, author: actor },
        };
        return { id: replyId, ticketId: id, content: text, createdAt };
      },
    });
  }

  /**
   * Deletes one of the viewer's own replies and erases its text. With `ticketId` (the legacy
   * endpoint names both), a reply of another ticket is NOT_FOUND. Returns the reply's ticket id.
   *
   * Lock first, then decide: the first read only finds the ticket to lock; once its row lock is
   * held, one conditional update (`… where deleted_at is null`) marks the reply deleted. Of
   * several concurrent deletions of one reply exactly one updates the row (and so takes one from
   * the ticket's reply count: Migration20261208000000_reply_count) and records REPLY_DELETED; the
   * others find it gone (NOT_FOUND) and write nothing.
   */
  async delete(em: EntityManager, viewer: Viewer, replyId: string, ticketId?: string): Promise<string> {
    const id = parseUuid(replyId, 'replyId');
    const expectedTicket = ticketId === undefined ? undefined : parseUuid(ticketId, 'ticketId');
    return this.unit.run(em, async (tem, changes) => {
      const [found] = await execute<Array<{ ticket_id: string; author_id: number }>>(
        tem,
        'select ticket_id, author_id from replies where id = ? and deleted_at is null',
        [id],
      );
      if (!found || (expectedTicket !== undefined && found.ticket_id !== expectedTicket)) throw notFound('Reply not found');
      // The ticket's lock orders the deletion and its event with the ticket's other changes.
      const ticket = await lockTicket(tem, found.ticket_id);
      if (found.author_id !== viewer.id) throw forbidden(MESSAGES.deleteReply);
      const at = new Date();
      const erased = await execute<Array<{ id: string }>>(
        tem,
        'update replies set deleted_at = ?, content = null where id = ? and deleted_at is null returning id',
        [at, id],
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

/**
 * A reply's writes: the reply, if the rule table allows it on the locked ticket, the ticket's last
 * change is before the bound (ticket-unit-of-work.ts `lockedWriteConditionSql`) and the ticket is
 * under the cap (one customer's chatter must not grow every reader's page of it without limit;
 * its `reply_count`, kept by a trigger, instead of counting the replies), and the ticket's updatedAt.
 */
const REPLY_CTES = `reply as (
    insert into replies (id, ticket_id, author_id, content, created_at)
    select ?::uuid, ?::uuid, ?, ?, ?::timestamptz
    where exists (select 1 from tickets t where t.id = ? and ${lockedWriteConditionSql('t')} and t.reply_count < ?)
    returning id),
  touched as (update tickets set updated_at = ?::timestamptz from reply where tickets.id = ?)`;
