import type { EntityManager } from '@mikro-orm/core';
import type { Services } from '../services';
import { badInput, forbidden, notFound } from '../shared/errors';
import { parseUserId } from '../shared/ids';
import { parseImageRefs, type ImageRef } from '../modules/image/image-ref';
import { INCLUDE_ALL } from '../modules/ticket/ticket.query';
import { canView, MESSAGES, TicketOperation } from '../modules/ticket/ticket.rules';
import type { IdempotencyKeyHeader } from '../modules/ticket/idempotency';
import { Role } from '../modules/user/role';
import type { Viewer } from '../modules/user/viewer';
import {
  checkCreateStatus,
  describe,
  isAbsent,
  isPlainObject,
  readOperator,
  readOptionalUserId,
  readPaging,
  readStatusFilter,
  readTransition,
  readUuid,
  requireField,
  withLegacyFieldNames,
  type LegacyFields,
} from './legacy-fields';
import { toLegacyPermissionCheck, toLegacyTicket, type LegacyTicket } from './legacy-ticket.mapper';

/**
 * The actions of `POST /api/ticket` (docs/contract.md "Legacy endpoint"). Each reads and validates its
 * fields, calls the same services GraphQL calls, and shapes the seed's reply: no rule lives
 * here, so a legacy action and its GraphQL mutation cannot disagree.
 */

/** What an action runs with: the authenticated viewer and a fresh EntityManager fork. */
export interface LegacyContext {
  readonly em: EntityManager;
  readonly services: Services;
  readonly viewer: Viewer;
  /** Base of absolute image URLs. */
  readonly publicUrl: string;
  /** The `Idempotency-Key` header, for create-ticket. */
  readonly idempotencyKey?: IdempotencyKeyHeader;
}

/** A request's content, from a JSON body or a multipart form. */
export interface LegacyInput {
  readonly fields: LegacyFields;
  /** True for multipart/form-data, where images come as parts rather than a JSON array. */
  readonly multipart: boolean;
  /**
   * Multipart only: the images of the form (file parts, and `images` text parts holding URLs
   * or data), in part order; undefined when the form has none.
   */
  readonly partImages?: readonly ImageRef[];
}

export interface LegacyAction {
  readonly name: string;
  /** Whether multipart/form-data bodies are accepted (create-ticket and edit-ticket: docs/contract.md). */
  readonly multipart: boolean;
  run(context: LegacyContext, input: LegacyInput): Promise<object>;
}

/** Service field names → the legacy names the client sent. */
const TICKET_FIELD_NAMES = { id: 'uuid', ticketId: 'uuid', staffId: 'staff-id' } as const;
const REPLY_FIELD_NAMES = { ticketId: 'uuid', replyId: 'reply-uuid', content: 'reply.content' } as const;

/**
 * The images of a create or edit: from the form's parts, or the JSON `images` array (stored
 * image URLs, data: URLs or bare base64, as legacy clients send them). Undefined when absent.
 */
function readImages(input: LegacyInput): readonly ImageRef[] | undefined {
  if (input.multipart) return input.partImages;
  const value = input.fields.images;
  return isAbsent(value) ? undefined : parseImageRefs(value, 'images', { allowBareBase64: true });
}

async function listTickets(context: LegacyContext, fields: LegacyFields, as: Role): Promise<{ count: number; tickets: LegacyTicket[] }> {
  const { em, services, viewer, publicUrl } = context;
  const query = { as, statuses: readStatusFilter(fields) };
  const paging = readPaging(fields);
  const page = await services.reader.list(em, viewer, { ...query, ...paging, include: INCLUDE_ALL });
  // Unpaged, the list is the whole set; paged, `count` stays the total (docs/contract.md).
  const count = paging ? await services.reader.count(em, viewer, query) : page.tickets.length;
  return { count, tickets: page.tickets.map((ticket) => toLegacyTicket(ticket, viewer, publicUrl)) };
}

const ACTIONS: readonly LegacyAction[] = [
  {
    name: 'permission-check',
    multipart: false,
    run: async ({ viewer }) => toLegacyPermissionCheck(viewer),
  },
  {
    name: 'create-ticket',
    multipart: true,
    run: async ({ em, services, viewer, idempotencyKey }, input) => {
      const { fields } = input;
      checkCreateStatus(fields);
      const content = requireField(fields, 'content');
      const images = readImages(input) ?? [];
      const uuid = await withLegacyFieldNames(TICKET_FIELD_NAMES, () => services.tickets.create(em, viewer, { content, images }, { idempotencyKey }));
      return { uuid };
    },
  },
  {
    /*
     * Content/image edits and status changes share this action. One request does one of the
     * two: a status change together with an edit is refused (400) rather than applied in two
     * transactions, where the second could fail after the first committed.
     */
    name: 'edit-ticket',
    multipart: true,
    run: async ({ em, services, viewer }, input) => {
      const { fields } = input;
      const uuid = readUuid(fields, 'uuid');
      const operation = readTransition(fields);
      const staffId = readOptionalUserId(fields, 'staff-id');
      const content = isAbsent(fields.content) ? undefined : fields.content;
      const images = readImages(input);
      if (operation !== undefined && (content !== undefined || images !== undefined)) {
        throw badInput('status', 'edit-ticket changes either content/images or status, not both in one request: send two requests');
      }
      if (staffId !== undefined && operation !== TicketOperation.ASSIGN) {
        throw badInput('staff-id', 'staff-id is only accepted with status ASSIGNED');
      }
      await withLegacyFieldNames(TICKET_FIELD_NAMES, () =>
        operation === undefined
          ? services.tickets.edit(em, viewer, uuid, { content, images })
          : services.tickets.transition(em, viewer, uuid, operation, { staffId }).then(() => undefined),
      );
      return { uuid };
    },
  },
  {
    name: 'list',
    multipart: false,
    run: (context, { fields }) => listTickets(context, fields, readOperator(fields, [Role.CUSTOMER, Role.STAFF])),
  },
  {
    name: 'scheduler-list',
    multipart: false,
    // The action names the role, so a missing `operator` means scheduler.
    run: (context, { fields }) => listTickets(context, fields, readOperator(fields, [Role.SCHEDULER], Role.SCHEDULER)),
  },
  {
    name: 'ticket-detail',
    multipart: false,
    run: async ({ em, services, viewer, publicUrl }, { fields }) => {
      const uuid = readUuid(fields, 'uuid');
      const ticket = await services.reader.findById(em, uuid, INCLUDE_ALL);
      if (!ticket) throw notFound('Ticket not found');
      if (!canView(viewer, ticket)) throw forbidden(MESSAGES.view);
      return { uuid, 'ticket-detail': toLegacyTicket(ticket, viewer, publicUrl) };
    },
  },
  {
    name: 'ticket-reply-create',
    multipart: false,
    run: async ({ em, services, viewer }, { fields }) => {
      const uuid = readUuid(fields, 'uuid');
      const reply = requireField(fields, 'reply');
      if (!isPlainObject(reply)) throw badInput('reply', `reply must be an object {"userid", "content"}, not ${describe(reply)}`);
      // The author is always the caller (docs/contract.md); `userid` is only checked against it.
      if (!isAbsent(reply.userid)) {
        const userid = parseUserId(reply.userid, 'reply.userid');
        if (userid !== viewer.id) throw forbidden(`You are not allowed to reply as user ${userid}: reply.userid must be your own user id`);
      }
      if (isAbsent(reply.content)) throw badInput('reply.content', 'reply.content is required');
      const created = await withLegacyFieldNames(REPLY_FIELD_NAMES, () => services.replies.add(em, viewer, uuid, reply.content));
      return { uuid: created.id };
    },
  },
  {
    name: 'ticket-reply-delete',
    multipart: false,
    run: async ({ em, services, viewer }, { fields }) => {
      const uuid = readUuid(fields, 'uuid');
      const replyUuid = readUuid(fields, 'reply-uuid');
      await withLegacyFieldNames(REPLY_FIELD_NAMES, () => services.replies.delete(em, viewer, replyUuid, uuid));
      // The ticket's uuid, as edit-ticket answers (the seed's example echoes the request's uuid).
      return { uuid };
    },
  },
];

const BY_NAME: ReadonlyMap<string, LegacyAction> = new Map(ACTIONS.map((action) => [action.name, action]));

/** Every action name, in the seed's order. */
export const LEGACY_ACTION_NAMES: readonly string[] = ACTIONS.map((action) => action.name);

/**
 * The action a request names. Case and `_`/`-` are forgiven (`Create_Ticket`); anything else is
 * BAD_INPUT naming `action`.
 */
export function findLegacyAction(value: unknown): LegacyAction {
  if (isAbsent(value)) throw badInput('action', `action is required: one of ${LEGACY_ACTION_NAMES.join(', ')}`);
  if (typeof value !== 'string') throw badInput('action', `action must be a string, not ${describe(value)}`);
  const action = BY_NAME.get(value.trim().toLowerCase().replace(/_/g, '-'));
  if (!action) throw badInput('action', `Unknown action ${describe(value)}: expected one of ${LEGACY_ACTION_NAMES.join(', ')}`);
  return action;
}
