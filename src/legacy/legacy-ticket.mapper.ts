import { imageUrl } from '../modules/image/image-ref';
import type { TicketView } from '../modules/ticket/ticket.query';
import { ALL_STATUSES, STATUS_CODE } from '../modules/ticket/ticket-status';
import { LEGACY_PERMISSION_KEY, LEGACY_ROLE_NAME } from './legacy-vocabulary';
import { OPERATION_RULES, permissionsFor, TicketOperation, transitionInto } from '../modules/ticket/ticket.rules';
import type { Viewer } from '../modules/user/viewer';

/**
 * The seed document's shapes, built from the read path's TicketView and the rule table. Keys are
 * exactly the seed's (hyphens included), ids are integers, statuses their codes, dates
 * milliseconds since the epoch.
 */

/** `0`/`1` flags, one per legacy key: `reply` and the key of each transition's target status. */
export type LegacyPermission = Record<string, 0 | 1>;

export interface LegacyReply {
  uuid: string;
  date: number;
  userid: number;
  content: string;
}

export interface LegacyHistoryEntry {
  uuid: string;
  date: number;
  userid: number;
  status: number;
}

export interface LegacyTicket {
  uuid: string;
  'customer-id': number;
  'scheduler-id': number | null;
  'staff-id': number | null;
  content: string;
  images: string[];
  reply: LegacyReply[];
  'operating-history': LegacyHistoryEntry[];
  status: number;
  permission: LegacyPermission;
}

/**
 * Legacy permission keys in the seed's order, each with the operation it reports: `reply`, then
 * one key per status a transition leads into (docs/contract.md: ASSIGNED, FIXED, CLOSED, REOPENED, PENDING,
 * CANCEL, IN PROCESSING). Derived from the rule table, so a new transition cannot be forgotten.
 */
export const LEGACY_PERMISSION_OPERATIONS: ReadonlyArray<readonly [string, TicketOperation]> = [
  ['reply', TicketOperation.REPLY],
  ...ALL_STATUSES.flatMap((status): Array<[string, TicketOperation]> => {
    const operation = transitionInto(status);
    const key = LEGACY_PERMISSION_KEY[status];
    if (operation === undefined) return [];
    if (key === undefined) throw new Error(`No legacy permission key for ${status} (${OPERATION_RULES[operation].to})`);
    return [[key, operation]];
  }),
];

/** The viewer's 0/1 flags on a ticket, from `permissionsFor`: the same answers as the mutations. */
export function toLegacyPermission(viewer: Viewer, ticket: TicketView): LegacyPermission {
  const permissions = permissionsFor(viewer, ticket);
  const flags: LegacyPermission = {};
  for (const [key, operation] of LEGACY_PERMISSION_OPERATIONS) flags[key] = permissions[operation] ? 1 : 0;
  return flags;
}

/**
 * Milliseconds as an integer. The read path computes them from PostgreSQL timestamps, which
 * keep microseconds; truncating matches what a JavaScript Date (and GraphQL's DateTime) shows.
 */
const ms = (value: number): number => Math.trunc(value);

/**
 * A ticket as the seed prints it. `view` must include replies and history (INCLUDE_ALL);
 * `publicUrl` is the base of the absolute image URLs.
 */
export function toLegacyTicket(view: TicketView, viewer: Viewer, publicUrl: string): LegacyTicket {
  return {
    uuid: view.id,
    'customer-id': view.customerId,
    'scheduler-id': view.scheduler?.id ?? null,
    'staff-id': view.staffId,
    content: view.content,
    images: view.imageIds.map((id) => imageUrl(publicUrl, id)),
    reply: (view.replies ?? []).map((reply) => ({ uuid: reply.id, date: ms(reply.createdAt), userid: reply.author.id, content: reply.content })),
    'operating-history': (view.history ?? []).map((entry) => ({
      uuid: entry.id,
      date: ms(entry.at),
      userid: entry.actor.id,
      status: STATUS_CODE[entry.status],
    })),
    status: STATUS_CODE[view.status],
    permission: toLegacyPermission(viewer, view),
  };
}

/** `permission-check`: the user id as a string (as the seed prints it) and role names. */
export function toLegacyPermissionCheck(viewer: Viewer): { userid: string; operator: string[] } {
  return { userid: String(viewer.id), operator: viewer.roles.map((role) => LEGACY_ROLE_NAME[role]) };
}
