import { TicketStatus } from '../../src/modules/ticket/ticket-status';
import type { OperationName } from './http';

/*
 * the contract's tables, written out from docs/contract.md rather than imported from src/: tests that compare the
 * server against these are checking the code against the contract, not against itself.
 */

/** the contract's 403 messages, word for word ("Legacy endpoint" table; request information added). */
export const SPEC_FORBIDDEN_MESSAGE: Readonly<Record<OperationName | 'view' | 'create' | 'createUser', string>> = {
  assign: 'You are not allowed to assign this ticket',
  startProcessing: 'You are not allowed to IN PROCESSING this ticket',
  requestInformation: 'You are not allowed to request information for this ticket',
  fix: 'You are not allowed to fixed this ticket',
  close: 'You are not allowed to close this ticket',
  reopen: 'You are not allowed to reopen this ticket',
  cancel: 'You are not allowed to cancel this ticket',
  edit: 'You are not allowed to edit this ticket',
  reply: 'You are not allowed to check this ticket',
  deleteReply: 'You are not allowed to delete this reply',
  view: 'You are not allowed to check this ticket',
  create: 'You are not allowed to create ticket',
  createUser: 'You are not allowed to create users',
};

/** The legacy `permission` key of each GraphQL permission flag (edit has none). */
export const SPEC_LEGACY_FLAG: Readonly<Partial<Record<OperationName, string>>> = {
  reply: 'reply',
  assign: 'ASSIGNED',
  fix: 'FIXED',
  close: 'CLOSED',
  reopen: 'REOPENED',
  requestInformation: 'PENDING',
  cancel: 'CANCEL',
  startProcessing: 'IN PROCESSING',
};

/** docs/contract.md "Statuses", copied out: code, legacy name, GraphQL enum, legacy permission key. */
export const SPEC_STATUSES = [
  { code: 1, legacy: 'NEW', status: TicketStatus.NEW, permissionKey: undefined },
  { code: 2, legacy: 'ASSIGNED', status: TicketStatus.ASSIGNED, permissionKey: 'ASSIGNED' },
  { code: 3, legacy: 'FIXED', status: TicketStatus.FIXED, permissionKey: 'FIXED' },
  { code: 4, legacy: 'CLOSED', status: TicketStatus.CLOSED, permissionKey: 'CLOSED' },
  { code: 5, legacy: 'REOPEN', status: TicketStatus.REOPEN, permissionKey: 'REOPENED' },
  { code: 6, legacy: 'Request Information', status: TicketStatus.REQUEST_INFORMATION, permissionKey: 'PENDING' },
  { code: 7, legacy: 'CANCEL', status: TicketStatus.CANCEL, permissionKey: 'CANCEL' },
  { code: 8, legacy: 'IN PROCESSING', status: TicketStatus.IN_PROCESSING, permissionKey: 'IN PROCESSING' },
] as const;

/** the contract's nine permission flags, all false ("Other operations": what a ticket's `permissions` answers). */
const NO_PERMISSIONS = {
  reply: false,
  edit: false,
  assign: false,
  startProcessing: false,
  requestInformation: false,
  fix: false,
  close: false,
  reopen: false,
  cancel: false,
};

/** A ticket's `permissions` as the contract gives them: the named flags true, every other one false. */
export const permissionFlags = (...allowed: Array<keyof typeof NO_PERMISSIONS>): Record<keyof typeof NO_PERMISSIONS, boolean> => ({
  ...NO_PERMISSIONS,
  ...Object.fromEntries(allowed.map((name) => [name, true])),
});
