/**
 * The legacy endpoint's words for the domain's roles and statuses: role names, the keys of its
 * `permission` object, and the list filter's "no filter" values. The domain's own names are
 * modules/user/role.ts and modules/ticket/ticket-status.ts; docs/contract.md has the tables.
 */
import { foldStatusName, parseStatus, TicketStatus } from '../modules/ticket/ticket-status';
import { Role } from '../modules/user/role';

/** Lower-case names the legacy endpoint speaks (`"operator": ["scheduler"]`). */
export const LEGACY_ROLE_NAME: Readonly<Record<Role, string>> = {
  [Role.CUSTOMER]: 'customer',
  [Role.STAFF]: 'staff',
  [Role.SCHEDULER]: 'scheduler',
};

/** The key of the legacy `permission` object for the transition into a status (docs/contract.md table). */
export const LEGACY_PERMISSION_KEY: Readonly<Partial<Record<TicketStatus, string>>> = {
  [TicketStatus.ASSIGNED]: 'ASSIGNED',
  [TicketStatus.FIXED]: 'FIXED',
  [TicketStatus.CLOSED]: 'CLOSED',
  [TicketStatus.REOPEN]: 'REOPENED',
  [TicketStatus.REQUEST_INFORMATION]: 'PENDING',
  [TicketStatus.CANCEL]: 'CANCEL',
  [TicketStatus.IN_PROCESSING]: 'IN PROCESSING',
};

/** The "no filter" marker of legacy list requests (`"status": "ALL"`). */
export const ANY_STATUS = 'ALL' as const;

/**
 * Reads a list filter: `"ALL"` (any case) and `0` mean no filter, anything else must be a status.
 * Returns undefined when the input is neither.
 */
export function parseStatusFilter(input: unknown): TicketStatus | typeof ANY_STATUS | undefined {
  if (input === 0 || (typeof input === 'string' && (/^\s*0\s*$/.test(input) || foldStatusName(input) === ANY_STATUS))) {
    return ANY_STATUS;
  }
  return parseStatus(input);
}
