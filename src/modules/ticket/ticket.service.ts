import { EntityManager } from '@mikro-orm/core';
import { badInput, forbidden, notFound } from '../../shared/errors';
import { parseUuid } from '../../shared/ids';
import { validateText } from '../../shared/text';
import { uuidv7 } from '../../shared/uuid';
import { writeTransaction } from '../../db/write-transaction';
import { ChangeSink, TicketChange, TicketEventKind } from '../event/ticket-change';
import { ImageService } from '../image/image.service';
import type { ImageRef } from '../image/image-ref';
import { Role } from '../user/role';
import { Viewer } from '../user/viewer';
import { HistoryEntry } from './history-entry.entity';
import { claimIdempotencyKey, createFingerprint, parseIdempotencyKey } from './idempotency';
import { Ticket } from './ticket.entity';
import { TicketReader, type TicketInclude, type TicketView, type UserSummary } from './ticket.query';
import { lockTicket, TicketUnitOfWork } from './ticket-unit-of-work';
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
   * Two round trips (db/write-transaction.ts): begin with one statement that locks the ticket's
   * row and reads it (ASSIGN: and the named staff member); the rule table decides on that locked
   * row; one statement that updates it, appends the history entry and the event (and queues the
   * NOTIFY), sent with the commit. The answer is built from the locked row and what was written:
   * no read after the commit.
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
    const include = options.include ?? {};
    let change: TicketChange | undefined;
    const view = await writeTransaction(em, async (transaction) => {
      const locked = await this.reader.lockForChange(em, id, include, assigning ? options.staffId : undefined);
      if (!locked) throw notFound('Ticket not found');
      const { ticket } = locked;
      assertCan(viewer, operation, ticket);
      let { staffId, staff, scheduler } = ticket;
      let schedulerId: number | null = ticket.scheduler?.id ?? null;
      const actor = { id: viewer.id, username: viewer.username, roles: [...viewer.roles] };
      if (assigning) {
        // After the rule table: someone who may not assign hears FORBIDDEN, whatever they sent.
        if (options.staffId === undefined) throw badInput('staffId', 'staffId is required to assign a ticket');
        const user = checkStaffMember(locked.user, options.staffId);
        staffId = user.id;
        staff = { id: user.id, username: user.username, roles: user.roles };
        schedulerId = viewer.id;
        scheduler = actor;
      }
      const at = new Date();
      const historyId = uuidv7();
      const code = STATUS_CODE[target];
      change = { kind: TicketEventKind.STATUS_CHANGED, ticketId: id, actorId: viewer.id, at };
      transaction.commitWithNextStatement();
      const written = await this.changes.recordWith(em, change, {
        ctes: `changed as (
            update tickets set status = ?, updated_at = ?::timestamptz, staff_id = ?, scheduler_id = ? where id = ? returning id),
          history as (insert into ticket_history (id, ticket_id, actor_id, status, at) select ?::uuid, id, ?, ?, ?::timestamptz from changed)`,
        params: [code, at, staffId, schedulerId, id, historyId, viewer.id, code, at],
        gate: 'changed',
      });
      // The row is locked: it cannot have gone; if it did, nothing was written (and nothing committed).
      if (!written) throw notFound('Ticket not found');
      const after: TicketView = {
        ...ticket,
        status: target,
        updatedAt: at.getTime(),
        staffId,
        staff,
        scheduler,
        history: ticket.history && [...ticket.history, { id: historyId, status: target, actor, at: at.getTime() }],
      };
      change.outcome = { ticket: after, actor, reply: null };
      return after;
    }).catch((error: unknown) => {
      // Nothing (or not known to be anything) committed: the sink stops waiting for this write.
      if (change) this.changes.failed(change);
      throw error;
    });
    if (change) this.changes.committed(change);
    return view;
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
