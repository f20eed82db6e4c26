import { DomainError, ErrorCode } from '../../shared/errors';
import { Role } from '../user/role';
import { hasRole, Viewer } from '../user/viewer';
import { ALL_STATUSES, STATUS_DISPLAY_NAME, TicketStatus } from './ticket-status';

/**
 * The workflow as data (docs/contract.md "Transitions", "Other operations", "Who sees what").
 *
 * One table says, for every operation a viewer can perform on a ticket, who may perform it and
 * from which statuses. `decide` is the only function that reads it: mutations, the legacy
 * endpoint, permission flags and subscription filters all ask it, so they can never disagree.
 */

/** Operations a viewer performs on a ticket, one permission flag each. */
export enum TicketOperation {
  REPLY = 'reply',
  EDIT = 'edit',
  ASSIGN = 'assign',
  START_PROCESSING = 'startProcessing',
  REQUEST_INFORMATION = 'requestInformation',
  FIX = 'fix',
  CLOSE = 'close',
  REOPEN = 'reopen',
  CANCEL = 'cancel',
}

export const ALL_OPERATIONS: readonly TicketOperation[] = Object.values(TicketOperation);

/**
 * Who a viewer is to a ticket. A viewer can be several at once (a scheduler who also filed it).
 * - `owner`: holds CUSTOMER and created the ticket;
 * - `assignee`: holds STAFF and is the ticket's current staff member;
 * - `scheduler`: holds SCHEDULER;
 * - `reader`: may see the ticket at all (see `canView`).
 */
export type Relation = 'owner' | 'assignee' | 'scheduler' | 'reader';

/** The facts about a ticket the rules depend on. */
export interface TicketFacts {
  readonly status: TicketStatus;
  readonly customerId: number;
  readonly staffId: number | null;
}

export interface OperationRule {
  /** Any one of these relations is enough. */
  readonly allowed: readonly Relation[];
  /** Statuses the operation may start from. */
  readonly from: readonly TicketStatus[];
  /** The status the operation moves the ticket to; absent for operations that keep it. */
  readonly to?: TicketStatus;
  /** The seed's 403 message, word for word. */
  readonly forbiddenMessage: string;
}

const S = TicketStatus;

export const OPERATION_RULES: Readonly<Record<TicketOperation, OperationRule>> = {
  [TicketOperation.ASSIGN]: {
    allowed: ['scheduler'],
    from: [S.NEW, S.REOPEN, S.ASSIGNED, S.IN_PROCESSING, S.REQUEST_INFORMATION],
    to: S.ASSIGNED,
    forbiddenMessage: 'You are not allowed to assign this ticket',
  },
  [TicketOperation.START_PROCESSING]: {
    allowed: ['assignee'],
    from: [S.ASSIGNED, S.REQUEST_INFORMATION],
    to: S.IN_PROCESSING,
    forbiddenMessage: 'You are not allowed to IN PROCESSING this ticket',
  },
  [TicketOperation.REQUEST_INFORMATION]: {
    allowed: ['assignee', 'scheduler'],
    from: [S.ASSIGNED, S.IN_PROCESSING],
    to: S.REQUEST_INFORMATION,
    forbiddenMessage: 'You are not allowed to request information for this ticket',
  },
  [TicketOperation.FIX]: {
    allowed: ['assignee'],
    from: [S.ASSIGNED, S.IN_PROCESSING],
    to: S.FIXED,
    forbiddenMessage: 'You are not allowed to fixed this ticket',
  },
  [TicketOperation.CLOSE]: {
    allowed: ['scheduler'],
    from: [S.FIXED],
    to: S.CLOSED,
    forbiddenMessage: 'You are not allowed to close this ticket',
  },
  [TicketOperation.REOPEN]: {
    allowed: ['owner'],
    from: [S.FIXED, S.CLOSED],
    to: S.REOPEN,
    forbiddenMessage: 'You are not allowed to reopen this ticket',
  },
  [TicketOperation.CANCEL]: {
    allowed: ['owner', 'scheduler'],
    from: [S.NEW, S.ASSIGNED, S.REOPEN, S.REQUEST_INFORMATION, S.IN_PROCESSING],
    to: S.CANCEL,
    forbiddenMessage: 'You are not allowed to cancel this ticket',
  },
  [TicketOperation.EDIT]: {
    allowed: ['owner'],
    from: [S.NEW, S.REOPEN, S.REQUEST_INFORMATION],
    forbiddenMessage: 'You are not allowed to edit this ticket',
  },
  [TicketOperation.REPLY]: {
    allowed: ['reader'],
    from: ALL_STATUSES.filter((status) => status !== S.CLOSED && status !== S.CANCEL),
    forbiddenMessage: 'You are not allowed to check this ticket',
  },
};

/** The operation whose rule moves a ticket into `status`, if any (the legacy `status` field). */
export function transitionInto(status: TicketStatus): TicketOperation | undefined {
  return ALL_OPERATIONS.find((operation) => OPERATION_RULES[operation].to === status);
}

/** Messages for the other refusals, shared by every transport. */
export const MESSAGES = {
  create: 'You are not allowed to create ticket',
  view: 'You are not allowed to check this ticket',
  deleteReply: 'You are not allowed to delete this reply',
  listAs: (role: Role) => `You are not allowed to list tickets as ${role.toLowerCase()}`,
} as const;

/** Whether the viewer may create tickets at all (customers file tickets). */
export const canCreate = (viewer: Viewer): boolean => hasRole(viewer, Role.CUSTOMER);

/**
 * Which tickets a viewer sees, acting in some of their roles (docs/contract.md "Who sees what"): customers
 * the tickets they created, staff the tickets currently assigned to them except while NEW,
 * schedulers every ticket. Lists translate a scope into SQL (ticket.query.ts) and single tickets
 * test it with `scopeIncludes`, so a list and a detail can never disagree.
 */
export type VisibilityScope = { readonly all: true } | { readonly all: false; readonly customerId?: number; readonly assignedStaffId?: number };

/** Statuses in which an assigned staff member still does not see a ticket. */
export const HIDDEN_FROM_STAFF: readonly TicketStatus[] = [S.NEW];

export function visibilityScope(viewer: Viewer, actingAs: readonly Role[] = viewer.roles): VisibilityScope {
  const roles = actingAs.filter((role) => hasRole(viewer, role));
  if (roles.includes(Role.SCHEDULER)) return { all: true };
  return {
    all: false,
    customerId: roles.includes(Role.CUSTOMER) ? viewer.id : undefined,
    assignedStaffId: roles.includes(Role.STAFF) ? viewer.id : undefined,
  };
}

export function scopeIncludes(scope: VisibilityScope, ticket: TicketFacts): boolean {
  if (scope.all) return true;
  if (scope.customerId !== undefined && ticket.customerId === scope.customerId) return true;
  return scope.assignedStaffId !== undefined && ticket.staffId === scope.assignedStaffId && !HIDDEN_FROM_STAFF.includes(ticket.status);
}

/** Whether the viewer may see the ticket at all, in any of their roles. */
export const canView = (viewer: Viewer, ticket: TicketFacts): boolean => scopeIncludes(visibilityScope(viewer), ticket);

export function relationsOf(viewer: Viewer, ticket: TicketFacts): Set<Relation> {
  const relations = new Set<Relation>();
  if (hasRole(viewer, Role.CUSTOMER) && ticket.customerId === viewer.id) relations.add('owner');
  if (hasRole(viewer, Role.STAFF) && ticket.staffId !== null && ticket.staffId === viewer.id) {
    relations.add('assignee');
  }
  if (hasRole(viewer, Role.SCHEDULER)) relations.add('scheduler');
  if (canView(viewer, ticket)) relations.add('reader');
  return relations;
}

export type Decision =
  { readonly allowed: true } | { readonly allowed: false; readonly code: ErrorCode.FORBIDDEN | ErrorCode.CONFLICT; readonly message: string };

const ALLOWED: Decision = { allowed: true };

/**
 * May this viewer perform this operation on this ticket now?
 *
 * FORBIDDEN when no relation the rule accepts holds (wrong role, not the owner, not the assignee),
 * whatever the status; CONFLICT when the viewer could perform it in general but not from the
 * ticket's current status.
 */
export function decide(viewer: Viewer, operation: TicketOperation, ticket: TicketFacts): Decision {
  return decideFor(relationsOf(viewer, ticket), operation, ticket);
}

/** `decide` for relations already worked out (one viewer, one ticket, many operations). */
function decideFor(relations: ReadonlySet<Relation>, operation: TicketOperation, ticket: TicketFacts): Decision {
  const rule = OPERATION_RULES[operation];
  if (!holdsRelation(rule, relations)) {
    return { allowed: false, code: ErrorCode.FORBIDDEN, message: rule.forbiddenMessage };
  }
  if (!rule.from.includes(ticket.status)) {
    return { allowed: false, code: ErrorCode.CONFLICT, message: conflictMessage(operation, ticket.status) };
  }
  return ALLOWED;
}

/** Whether `decideFor` allows: the same two tests, without wording the refusal nobody reads. */
function allowedFor(relations: ReadonlySet<Relation>, operation: TicketOperation, ticket: TicketFacts): boolean {
  const rule = OPERATION_RULES[operation];
  return holdsRelation(rule, relations) && rule.from.includes(ticket.status);
}

const holdsRelation = (rule: OperationRule, relations: ReadonlySet<Relation>): boolean => rule.allowed.some((relation) => relations.has(relation));

function conflictMessage(operation: TicketOperation, current: TicketStatus): string {
  const rule = OPERATION_RULES[operation];
  const from = STATUS_DISPLAY_NAME[current];
  if (rule.to) return `Cannot change ticket status from ${from} to ${STATUS_DISPLAY_NAME[rule.to]}`;
  if (operation === TicketOperation.REPLY) return `Cannot reply to a ticket in status ${from}`;
  return `Cannot edit a ticket in status ${from}`;
}

export const can = (viewer: Viewer, operation: TicketOperation, ticket: TicketFacts): boolean => decide(viewer, operation, ticket).allowed;

/** Throws the typed DomainError of `decide`'s refusal. */
export function assertCan(viewer: Viewer, operation: TicketOperation, ticket: TicketFacts): void {
  const decision = decide(viewer, operation, ticket);
  if (!decision.allowed) throw new DomainError(decision.code, decision.message);
}

export type TicketPermissions = Record<TicketOperation, boolean>;

/** Every permission flag for this viewer on this ticket, from the same `decide`. */
export function permissionsFor(viewer: Viewer, ticket: TicketFacts): TicketPermissions {
  const relations = relationsOf(viewer, ticket);
  const permissions = {} as TicketPermissions;
  // A list page asks this for every ticket: a refusal's message (a template string per operation
  // refused by status) would be made only to be dropped.
  for (const operation of ALL_OPERATIONS) permissions[operation] = allowedFor(relations, operation, ticket);
  return permissions;
}
