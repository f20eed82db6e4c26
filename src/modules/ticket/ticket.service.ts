import { EntityManager } from '@mikro-orm/core';
import { badInput, forbidden, notFound } from '../../shared/errors';
import { parseUuid } from '../../shared/ids';
import { validateText } from '../../shared/text';
import { uuidv7 } from '../../shared/uuid';
import { ChangeSink, TicketEventKind } from '../event/ticket-change';
import { ImageService } from '../image/image.service';
import type { ImageRef } from '../image/image-ref';
import { Role } from '../user/role';
import { Viewer } from '../user/viewer';
import { HistoryEntry } from './history-entry.entity';
import { claimIdempotencyKey, createFingerprint, parseIdempotencyKey } from './idempotency';
import { Ticket } from './ticket.entity';
import { TicketReader, type TicketInclude, type TicketView, type UserSummary } from './ticket.query';
import { lockedWriteConditionSql, lockTicket, TicketUnitOfWork, writeLocked, type PlannedChange } from './ticket-unit-of-work';
import { STATUS_CODE, TicketStatus } from './ticket-status';
import { assertCan, canCreate, MESSAGES, OPERATION_RULES, TicketOperation } from './ticket.rules';

export interface CreateTicketCommand {
  readonly content: unknown;
  readonly images?: readonly ImageRef[];
}

export interface CreateTicketOptions {
  /**
   * The request's `Idempotency-Key` header, unvalidated (see idempotency.ts): a retry with the
   * same key and the same command returns the first create's ticket id instead of a new ticket.
   */
  readonly idempotencyKey?: unknown;
}

export interface EditTicketCommand {
  /** Absent: unchanged. */
  readonly content?: unknown;
  /** Absent: unchanged; present: the new list, in order. */
  readonly images?: readonly ImageRef[];
}

/** Operations that move a ticket to another status. */
export type TransitionOperation = Exclude<TicketOperation, TicketOperation.EDIT | TicketOperation.REPLY>;

/**
 * Every write to a ticket. Each method validates, loads the ticket under a row lock, asks the
 * rule table, changes it, appends history and records the change, all in one transaction; only
 * after the commit is the change published. GraphQL and the legacy endpoint both call these.
 */
export class TicketService {
  private readonly unit: TicketUnitOfWork;

  constructor(
    private readonly images: ImageService,
    private readonly changes: ChangeSink,
    private readonly reader: TicketReader = new TicketReader(),
  ) {
    this.unit = new TicketUnitOfWork(changes);
  }

  /** Files a ticket; with `options.idempotencyKey`, a retry returns the first ticket's id. */
  async create(em: EntityManager, viewer: Viewer, command: CreateTicketCommand, options: CreateTicketOptions = {}): Promise<string> {
    if (!canCreate(viewer)) throw forbidden(MESSAGES.create);
    const content = validateText(command.content, 'content');
    const key = parseIdempotencyKey(options.idempotencyKey);
    return this.unit.run(em, async (tem, changes) => {
      const id = uuidv7();
      if (key !== undefined) {
        // First statement of the transaction, so a replay stores no images and writes nothing.
        const fingerprint = createFingerprint(content, command.images ?? []);
        const claim = await claimIdempotencyKey(tem, { userId: viewer.id, key, fingerprint }, id);
        if (!claim.claimed) return claim.ticketId;
      }
      const imageIds = await this.images.resolve(tem, viewer, command.images ?? [], [], 'images');
      const ticket = tem.create(Ticket, { id, customerId: viewer.id, content, imageIds });
      tem.persist(ticket);
      const entry = this.appendHistory(tem, ticket, viewer, TicketStatus.NEW);
      // The new ticket as this transaction leaves it, every nested collection known (no reply, one
      // history entry): this process fans CREATED out from it, and decides who sees it on it.
      const actor = { id: viewer.id, username: viewer.username, roles: [...viewer.roles] };
      const created: TicketView = {
        id: ticket.id,
        status: TicketStatus.NEW,
        content,
        imageIds: [...imageIds],
        customerId: viewer.id,
        staffId: null,
        customer: actor,
        scheduler: null,
        staff: null,
        replies: [],
        history: [{ id: entry.id, status: TicketStatus.NEW, actor, at: entry.at.getTime() }],
        createdAt: ticket.createdAt.getTime(),
        updatedAt: ticket.updatedAt.getTime(),
      };
      changes.push({
        kind: TicketEventKind.CREATED,
        ticketId: ticket.id,
        actorId: viewer.id,
        at: ticket.createdAt,
        outcome: { ticket: created, actor, reply: null },
      });
      return ticket.id;
    });
  }

  /** Content and image edits; omitted fields stay as they are. Not a history entry (docs/contract.md). */
  async edit(em: EntityManager, viewer: Viewer, ticketId: string, command: EditTicketCommand): Promise<void> {
    const id = parseUuid(ticketId, 'id');
    const content = command.content === undefined ? undefined : validateText(command.content, 'content');
    await this.unit.run(
      em,
      async (tem, changes) => {
        const ticket = await lockTicket(tem, id);
        assertCan(viewer, TicketOperation.EDIT, ticket);
        let changed = false;
        if (content !== undefined && content !== ticket.content) {
          ticket.content = content;
          changed = true;
        }
        if (command.images !== undefined) {
          const imageIds = await this.images.resolve(tem, viewer, command.images, ticket.imageIds, 'images');
          if (imageIds.join() !== ticket.imageIds.join()) {
            ticket.imageIds = imageIds;
            changed = true;
          }
        }
        if (changed) {
          ticket.updatedAt = new Date();
          changes.push({ kind: TicketEventKind.EDITED, ticketId: id, actorId: viewer.id, at: ticket.updatedAt });
        }
      },
      async (tem, changes) => {
        // The ticket as this transaction leaves it (read under its lock, nested collections not
        // read): this process fans EDITED out from it and decides who sees it on it, not on the
        // ticket as it is when the hub gets there (maybe assigned by then).
        for (const change of changes) {
          const ticket = await this.reader.findById(tem, change.ticketId, {});
          if (!ticket) continue;
          change.outcome = { ticket, actor: { id: viewer.id, username: viewer.username, roles: [...viewer.roles] }, reply: null };
        }
      },
    );
  }

  /**
   * Moves a ticket along the workflow and returns it as it is after the commit (with the nested
   * collections `include` asks for). ASSIGN names the staff member (who must hold the staff role)
   * and records the acting scheduler.
   *
   * One round trip (ticket-unit-of-work.ts `writeLocked`): the statement that locks the ticket's
   * row and reads it, and the statement that updates it, appends the history entry and the event
   * (and queues the NOTIFY) only where the rule table allows it on the locked row
   * (ticket.rules.sql.ts), in one message, one implicit transaction; the rule table then words a
   * refusal from the row as read. ASSIGN takes two (lock and read; the rule table and the staff check; the
   * write with the commit): its staff member's row is not locked, so the write must not decide
   * on it again. The answer is built from the locked row and what was written: no read after the
   * commit.
   */
  async transition(
    em: EntityManager,
    viewer: Viewer,
    ticketId: string,
    operation: TransitionOperation,
    options: { staffId?: number; include?: TicketInclude } = {},
  ): Promise<TicketView> {
    const id = parseUuid(ticketId, 'id');
    const target = OPERATION_RULES[operation].to;
    if (!target) throw new Error(`${operation} is not a transition`);
    const assigning = operation === TicketOperation.ASSIGN;
    const named = assigning ? options.staffId : undefined;
    const include = options.include ?? {};
    const code = STATUS_CODE[target];
    const actor = { id: viewer.id, username: viewer.username, roles: [...viewer.roles] };
    type Planned = PlannedChange & { readonly historyId: string };
    return writeLocked<TicketView, Planned, TicketView>(
      em,
      this.changes,
      {
        viewer,
        operation,
        lock: this.reader.lockStatement(id, include, named),
        decide: (rows) => {
          const locked = this.reader.lockedTicket(rows, include, named);
          if (!locked) throw notFound('Ticket not found');
          assertCan(viewer, operation, locked.ticket);
          if (!assigning) return locked.ticket;
          // After the rule table: someone who may not assign hears FORBIDDEN, whatever they sent.
          if (named === undefined) throw badInput('staffId', 'staffId is required to assign a ticket');
          const staff = checkStaffMember(locked.user, named);
          return { ...locked.ticket, staffId: staff.id, staff, scheduler: actor };
        },
        plan: (at, decided, condition) => {
          const historyId = uuidv7(at.getTime());
          return {
            historyId,
            change: { kind: TicketEventKind.STATUS_CHANGED, ticketId: id, actorId: viewer.id, at },
            writes: {
              ctes: TRANSITION_CTES,
              params: [
                code,
                at,
                // ASSIGN (always decided first): the staff member and the acting scheduler; others keep them.
                assigning ? decided!.staffId : null,
                assigning ? viewer.id : null,
                id,
                ...condition,
                historyId,
                viewer.id,
                code,
                at,
              ],
              gate: 'changed',
            },
          };
        },
        answer: (decided, { change, historyId }, written) => {
          // The statement's condition is the rule table's own answer on the same locked row.
          if (!written) throw new Error(`The ${operation} of ticket ${id} was allowed by the rule table and refused by its statement`);
          const at = change.at.getTime();
          const after: TicketView = {
            ...decided,
            status: target,
            updatedAt: at,
            history: decided.history && [...decided.history, { id: historyId, status: target, actor, at }],
          };
          change.outcome = { ticket: after, actor, reply: null };
          return after;
        },
      },
      { lockFirst: assigning },
    );
  }

  private appendHistory(tem: EntityManager, ticket: Ticket, viewer: Viewer, status: TicketStatus): HistoryEntry {
    const entry = tem.create(HistoryEntry, { ticketId: ticket.id, actorId: viewer.id, status: STATUS_CODE[status] });
    tem.persist(entry);
    return entry;
  }
}

/** ASSIGN's staff member, read in the locking statement: must exist, hold STAFF and be active. */
function checkStaffMember(user: (UserSummary & { active: boolean }) | null, staffId: number): UserSummary {
  if (!user || !user.roles.includes(Role.STAFF)) throw badInput('staffId', `User ${staffId} is not a staff member`);
  // Tickets already assigned to someone deactivated stay with them until reassigned; new ones do not go there.
  if (!user.active) throw badInput('staffId', `User ${staffId} is deactivated`);
  return { id: user.id, username: user.username, roles: user.roles };
}

/**
 * A transition's writes: the status (ASSIGN: the staff member and the acting scheduler too), if
 * the rule table allows it on the locked row and the ticket's last change is before the bound
 * (ticket-unit-of-work.ts `lockedWriteConditionSql`), then its history entry.
 */
const TRANSITION_CTES = `changed as (
    update tickets t set status = ?, updated_at = ?::timestamptz, staff_id = coalesce(?::int, t.staff_id), scheduler_id = coalesce(?::int, t.scheduler_id)
    where t.id = ? and ${lockedWriteConditionSql('t')}
    returning t.id),
  history as (insert into ticket_history (id, ticket_id, actor_id, status, at) select ?::uuid, id, ?, ?, ?::timestamptz from changed)`;
