import { DomainError, ErrorCode } from '../../shared/errors';
import { Role } from '../user/role';
import { Viewer } from '../user/viewer';
import { TicketStatus } from './ticket-status';
import {
  ALL_OPERATIONS,
  assertCan,
  can,
  canCreate,
  canView,
  decide,
  MESSAGES,
  permissionsFor,
  TicketFacts,
  TicketOperation,
  transitionInto,
} from './ticket.rules';

/*
 * The expectations below are written from docs/contract.md ("Who sees what", "Transitions", "Other
 * operations", the 403 message table), never from OPERATION_RULES. They exist twice on purpose:
 * once as the contract's rule table (who may, from which statuses) and once as a literal per-viewer grid
 * of outcomes; a consistency test checks the two against each other, so a slip in either is
 * caught before the code is judged against them.
 */

const S = TicketStatus;
const Op = TicketOperation;

/** Statuses in the contract's code order (1..8). */
const STATUSES = [S.NEW, S.ASSIGNED, S.FIXED, S.CLOSED, S.REOPEN, S.REQUEST_INFORMATION, S.CANCEL, S.IN_PROCESSING] as const;

/** Operations in the contract's `TicketPermissions` order: also the column order of the grids below. */
const OPERATIONS = [Op.REPLY, Op.EDIT, Op.ASSIGN, Op.START_PROCESSING, Op.REQUEST_INFORMATION, Op.FIX, Op.CLOSE, Op.REOPEN, Op.CANCEL] as const;

/** Who a viewer is to a ticket, in the contract's words. */
type SpecRelation =
  | 'creating customer' // holds the customer role and created the ticket
  | 'assigned staff' // holds the staff role and is the ticket's current staff member
  | 'scheduler' // holds the scheduler role
  | 'can see'; // docs/contract.md "Who sees what"

interface SpecRule {
  readonly who: readonly SpecRelation[];
  readonly from: readonly TicketStatus[];
  /** Target status of a transition; absent for reply and edit. */
  readonly to?: TicketStatus;
  /** the contract's 403 table, word for word. */
  readonly forbidden: string;
}

/** docs/contract.md "Transitions" and "Other operations", copied out as data. */
const SPEC_RULES: Readonly<Record<TicketOperation, SpecRule>> = {
  [Op.REPLY]: {
    // "anyone who can see the ticket, unless it is CLOSED or CANCEL"
    who: ['can see'],
    from: [S.NEW, S.ASSIGNED, S.FIXED, S.REOPEN, S.REQUEST_INFORMATION, S.IN_PROCESSING],
    forbidden: 'You are not allowed to check this ticket',
  },
  [Op.EDIT]: {
    who: ['creating customer'],
    from: [S.NEW, S.REOPEN, S.REQUEST_INFORMATION],
    forbidden: 'You are not allowed to edit this ticket',
  },
  [Op.ASSIGN]: {
    who: ['scheduler'],
    from: [S.NEW, S.REOPEN, S.ASSIGNED, S.IN_PROCESSING, S.REQUEST_INFORMATION],
    to: S.ASSIGNED,
    forbidden: 'You are not allowed to assign this ticket',
  },
  [Op.START_PROCESSING]: {
    who: ['assigned staff'],
    from: [S.ASSIGNED, S.REQUEST_INFORMATION],
    to: S.IN_PROCESSING,
    forbidden: 'You are not allowed to IN PROCESSING this ticket',
  },
  [Op.REQUEST_INFORMATION]: {
    who: ['assigned staff', 'scheduler'],
    from: [S.ASSIGNED, S.IN_PROCESSING],
    to: S.REQUEST_INFORMATION,
    forbidden: 'You are not allowed to request information for this ticket',
  },
  [Op.FIX]: {
    who: ['assigned staff'],
    from: [S.ASSIGNED, S.IN_PROCESSING],
    to: S.FIXED,
    forbidden: 'You are not allowed to fixed this ticket',
  },
  [Op.CLOSE]: {
    who: ['scheduler'],
    from: [S.FIXED],
    to: S.CLOSED,
    forbidden: 'You are not allowed to close this ticket',
  },
  [Op.REOPEN]: {
    who: ['creating customer'],
    from: [S.FIXED, S.CLOSED],
    to: S.REOPEN,
    forbidden: 'You are not allowed to reopen this ticket',
  },
  [Op.CANCEL]: {
    who: ['creating customer', 'scheduler'],
    from: [S.NEW, S.ASSIGNED, S.REOPEN, S.REQUEST_INFORMATION, S.IN_PROCESSING],
    to: S.CANCEL,
    forbidden: 'You are not allowed to cancel this ticket',
  },
};

/*
 * Literal outcome grids: one row per status (docs/contract.md code order), one letter per operation in the
 * order reply edit assign startProcessing requestInformation fix close reopen cancel.
 * A = allowed, F = 403 FORBIDDEN, C = 409 CONFLICT.
 */
type Outcome = 'A' | 'F' | 'C';
type Grid = Readonly<Record<TicketStatus, string>>;

const grid = (rows: readonly string[]): Grid => {
  if (rows.length !== STATUSES.length) throw new Error('a grid has one row per status');
  return Object.fromEntries(STATUSES.map((status, index) => [status, rows[index].replace(/\s+/g, '')])) as Record<TicketStatus, string>;
};

//                          rep edt asg sta req fix clo reo can
const NOTHING = grid([
  /* NEW                 */ 'F   F   F   F   F   F   F   F   F',
  /* ASSIGNED            */ 'F   F   F   F   F   F   F   F   F',
  /* FIXED               */ 'F   F   F   F   F   F   F   F   F',
  /* CLOSED              */ 'F   F   F   F   F   F   F   F   F',
  /* REOPEN              */ 'F   F   F   F   F   F   F   F   F',
  /* REQUEST_INFORMATION */ 'F   F   F   F   F   F   F   F   F',
  /* CANCEL              */ 'F   F   F   F   F   F   F   F   F',
  /* IN_PROCESSING       */ 'F   F   F   F   F   F   F   F   F',
]);

//                          rep edt asg sta req fix clo reo can
const CREATING_CUSTOMER = grid([
  /* NEW                 */ 'A   A   F   F   F   F   F   C   A',
  /* ASSIGNED            */ 'A   C   F   F   F   F   F   C   A',
  /* FIXED               */ 'A   C   F   F   F   F   F   A   C',
  /* CLOSED              */ 'C   C   F   F   F   F   F   A   C',
  /* REOPEN              */ 'A   A   F   F   F   F   F   C   A',
  /* REQUEST_INFORMATION */ 'A   A   F   F   F   F   F   C   A',
  /* CANCEL              */ 'C   C   F   F   F   F   F   C   C',
  /* IN_PROCESSING       */ 'A   C   F   F   F   F   F   C   A',
]);

// A NEW ticket has no staff member yet, so the would-be assignee is nobody to it (and staff never
// see NEW tickets): its NEW row is all 403.
//                          rep edt asg sta req fix clo reo can
const ASSIGNED_STAFF = grid([
  /* NEW                 */ 'F   F   F   F   F   F   F   F   F',
  /* ASSIGNED            */ 'A   F   F   A   A   A   F   F   F',
  /* FIXED               */ 'A   F   F   C   C   C   F   F   F',
  /* CLOSED              */ 'C   F   F   C   C   C   F   F   F',
  /* REOPEN              */ 'A   F   F   C   C   C   F   F   F',
  /* REQUEST_INFORMATION */ 'A   F   F   A   C   C   F   F   F',
  /* CANCEL              */ 'C   F   F   C   C   C   F   F   F',
  /* IN_PROCESSING       */ 'A   F   F   C   A   A   F   F   F',
]);

//                          rep edt asg sta req fix clo reo can
const SCHEDULER = grid([
  /* NEW                 */ 'A   F   A   F   C   F   C   F   A',
  /* ASSIGNED            */ 'A   F   A   F   A   F   C   F   A',
  /* FIXED               */ 'A   F   C   F   C   F   A   F   C',
  /* CLOSED              */ 'C   F   C   F   C   F   C   F   C',
  /* REOPEN              */ 'A   F   A   F   C   F   C   F   A',
  /* REQUEST_INFORMATION */ 'A   F   A   F   C   F   C   F   A',
  /* CANCEL              */ 'C   F   C   F   C   F   C   F   C',
  /* IN_PROCESSING       */ 'A   F   A   F   A   F   C   F   A',
]);

// Creating customer and assigned staff at once (NEW row: only the creator, nobody is assigned).
//                          rep edt asg sta req fix clo reo can
const CREATOR_AND_ASSIGNEE = grid([
  /* NEW                 */ 'A   A   F   F   F   F   F   C   A',
  /* ASSIGNED            */ 'A   C   F   A   A   A   F   C   A',
  /* FIXED               */ 'A   C   F   C   C   C   F   A   C',
  /* CLOSED              */ 'C   C   F   C   C   C   F   A   C',
  /* REOPEN              */ 'A   A   F   C   C   C   F   C   A',
  /* REQUEST_INFORMATION */ 'A   A   F   A   C   C   F   C   A',
  /* CANCEL              */ 'C   C   F   C   C   C   F   C   C',
  /* IN_PROCESSING       */ 'A   C   F   C   A   A   F   C   A',
]);

//                          rep edt asg sta req fix clo reo can
const SCHEDULER_AND_CREATOR = grid([
  /* NEW                 */ 'A   A   A   F   C   F   C   C   A',
  /* ASSIGNED            */ 'A   C   A   F   A   F   C   C   A',
  /* FIXED               */ 'A   C   C   F   C   F   A   A   C',
  /* CLOSED              */ 'C   C   C   F   C   F   C   A   C',
  /* REOPEN              */ 'A   A   A   F   C   F   C   C   A',
  /* REQUEST_INFORMATION */ 'A   A   A   F   C   F   C   C   A',
  /* CANCEL              */ 'C   C   C   F   C   F   C   C   C',
  /* IN_PROCESSING       */ 'A   C   A   F   A   F   C   C   A',
]);

// Scheduler who is also the assigned staff member (NEW row: scheduler only).
//                          rep edt asg sta req fix clo reo can
const SCHEDULER_AND_ASSIGNEE = grid([
  /* NEW                 */ 'A   F   A   F   C   F   C   F   A',
  /* ASSIGNED            */ 'A   F   A   A   A   A   C   F   A',
  /* FIXED               */ 'A   F   C   C   C   C   A   F   C',
  /* CLOSED              */ 'C   F   C   C   C   C   C   F   C',
  /* REOPEN              */ 'A   F   A   C   C   C   C   F   A',
  /* REQUEST_INFORMATION */ 'A   F   A   A   C   C   C   F   A',
  /* CANCEL              */ 'C   F   C   C   C   C   C   F   C',
  /* IN_PROCESSING       */ 'A   F   A   C   A   A   C   F   A',
]);

// Every role, creator and assignee (the bootstrap administrator filing and working a ticket).
//                          rep edt asg sta req fix clo reo can
const EVERYTHING = grid([
  /* NEW                 */ 'A   A   A   F   C   F   C   C   A',
  /* ASSIGNED            */ 'A   C   A   A   A   A   C   C   A',
  /* FIXED               */ 'A   C   C   C   C   C   A   A   C',
  /* CLOSED              */ 'C   C   C   C   C   C   C   A   C',
  /* REOPEN              */ 'A   A   A   C   C   C   C   C   A',
  /* REQUEST_INFORMATION */ 'A   A   A   A   C   C   C   C   A',
  /* CANCEL              */ 'C   C   C   C   C   C   C   C   C',
  /* IN_PROCESSING       */ 'A   C   A   C   A   A   C   C   A',
]);

/** Ids of the people a ticket can name. */
const CREATOR_ID = 1;
const ASSIGNEE_ID = 10;

interface ViewerKind {
  readonly name: string;
  readonly viewer: Viewer;
  /** Who created the ticket and who is assigned to it (outside NEW) when this viewer looks. */
  readonly customerId: number;
  readonly assignedStaffId: number;
  /** Who this viewer is to the ticket outside NEW, per docs/contract.md (in NEW nobody is assigned). */
  readonly relations: readonly Exclude<SpecRelation, 'can see'>[];
  readonly grid: Grid;
}

const viewer = (id: number, roles: Role[], isAdmin = false): Viewer => ({
  id,
  username: `user${id}`,
  roles,
  isAdmin,
});

const C = Role.CUSTOMER;
const ST = Role.STAFF;
const SC = Role.SCHEDULER;

const VIEWER_KINDS: readonly ViewerKind[] = [
  {
    name: 'creating customer',
    viewer: viewer(CREATOR_ID, [C]),
    customerId: CREATOR_ID,
    assignedStaffId: ASSIGNEE_ID,
    relations: ['creating customer'],
    grid: CREATING_CUSTOMER,
  },
  {
    name: 'other customer',
    viewer: viewer(2, [C]),
    customerId: CREATOR_ID,
    assignedStaffId: ASSIGNEE_ID,
    relations: [],
    grid: NOTHING,
  },
  {
    name: 'assigned staff',
    viewer: viewer(ASSIGNEE_ID, [ST]),
    customerId: CREATOR_ID,
    assignedStaffId: ASSIGNEE_ID,
    relations: ['assigned staff'],
    grid: ASSIGNED_STAFF,
  },
  {
    name: 'other staff',
    viewer: viewer(11, [ST]),
    customerId: CREATOR_ID,
    assignedStaffId: ASSIGNEE_ID,
    relations: [],
    grid: NOTHING,
  },
  {
    name: 'scheduler (not the creator)',
    viewer: viewer(20, [SC]),
    customerId: CREATOR_ID,
    assignedStaffId: ASSIGNEE_ID,
    relations: ['scheduler'],
    grid: SCHEDULER,
  },
  {
    name: 'customer+staff, creator and assignee',
    viewer: viewer(30, [C, ST]),
    customerId: 30,
    assignedStaffId: 30,
    relations: ['creating customer', 'assigned staff'],
    grid: CREATOR_AND_ASSIGNEE,
  },
  {
    name: 'customer+staff, creator, not assigned',
    viewer: viewer(31, [C, ST]),
    customerId: 31,
    assignedStaffId: ASSIGNEE_ID,
    relations: ['creating customer'],
    grid: CREATING_CUSTOMER,
  },
  {
    name: 'customer+staff, assignee, not the creator',
    viewer: viewer(32, [C, ST]),
    customerId: CREATOR_ID,
    assignedStaffId: 32,
    relations: ['assigned staff'],
    grid: ASSIGNED_STAFF,
  },
  {
    name: 'customer+staff, neither creator nor assignee',
    viewer: viewer(33, [ST, C]),
    customerId: CREATOR_ID,
    assignedStaffId: ASSIGNEE_ID,
    relations: [],
    grid: NOTHING,
  },
  {
    name: 'scheduler+customer, creator',
    viewer: viewer(34, [SC, C]),
    customerId: 34,
    assignedStaffId: ASSIGNEE_ID,
    relations: ['creating customer', 'scheduler'],
    grid: SCHEDULER_AND_CREATOR,
  },
  {
    name: 'staff+scheduler, assignee',
    viewer: viewer(35, [ST, SC]),
    customerId: CREATOR_ID,
    assignedStaffId: 35,
    relations: ['assigned staff', 'scheduler'],
    grid: SCHEDULER_AND_ASSIGNEE,
  },
  {
    name: 'staff+scheduler, not assigned',
    viewer: viewer(36, [ST, SC]),
    customerId: CREATOR_ID,
    assignedStaffId: ASSIGNEE_ID,
    relations: ['scheduler'],
    grid: SCHEDULER,
  },
  {
    name: 'every role, creator and assignee',
    viewer: viewer(37, [C, ST, SC], true),
    customerId: 37,
    assignedStaffId: 37,
    relations: ['creating customer', 'assigned staff', 'scheduler'],
    grid: EVERYTHING,
  },
  // docs/contract.md gives administrators user management only; it says nothing about tickets, so an
  // administrator holding no role is read as having no relation to any ticket.
  {
    name: 'administrator with no role',
    viewer: viewer(38, [], true),
    customerId: CREATOR_ID,
    assignedStaffId: ASSIGNEE_ID,
    relations: [],
    grid: NOTHING,
  },
  // The ids match but the roles do not: a relation needs the role (docs/contract.md: "the customer who
  // created it", "the assigned staff member").
  {
    name: 'scheduler-only user whose id is the ticket customer and staff id',
    viewer: viewer(39, [SC]),
    customerId: 39,
    assignedStaffId: 39,
    relations: ['scheduler'],
    grid: SCHEDULER,
  },
];

/**
 * The ticket this viewer looks at. A NEW ticket has no staff member yet (staffId null); in every
 * other status it has one. docs/contract.md does not say whether a REOPENed or CANCELled ticket keeps its
 * staff member; the data model keeps `staff-id` until the next assignment, so it is kept here.
 */
const ticketFor = (kind: ViewerKind, status: TicketStatus): TicketFacts => ({
  status,
  customerId: kind.customerId,
  staffId: status === S.NEW ? null : kind.assignedStaffId,
});

/** docs/contract.md "Who sees what", from the viewer's relations (not from the code's canView). */
const specSees = (kind: ViewerKind, status: TicketStatus): boolean => specRelations(kind, status).includes('can see');

function specRelations(kind: ViewerKind, status: TicketStatus): SpecRelation[] {
  // Nobody is assigned to a NEW ticket.
  const relations: SpecRelation[] = kind.relations.filter((relation) => !(relation === 'assigned staff' && status === S.NEW));
  const sees = relations.includes('scheduler') || relations.includes('creating customer') || (relations.includes('assigned staff') && status !== S.NEW);
  if (sees) relations.push('can see');
  return relations;
}

/** What the contract's rule table says for one cell. */
function specOutcome(kind: ViewerKind, operation: TicketOperation, status: TicketStatus): Outcome {
  const rule = SPEC_RULES[operation];
  const relations = specRelations(kind, status);
  if (!rule.who.some((relation) => relations.includes(relation))) return 'F';
  return rule.from.includes(status) ? 'A' : 'C';
}

const gridOutcome = (kind: ViewerKind, operation: TicketOperation, status: TicketStatus): Outcome =>
  kind.grid[status][OPERATIONS.indexOf(operation)] as Outcome;

const CELLS = VIEWER_KINDS.flatMap((kind) =>
  STATUSES.flatMap((status) =>
    OPERATIONS.map((operation) => ({
      who: kind.name,
      kind,
      status,
      operation,
      expected: gridOutcome(kind, operation, status),
    })),
  ),
);

/** A status named in a message, with `_` and space alike (`REQUEST_INFORMATION`, `Request Information`). */
const statusPattern = (status: TicketStatus): RegExp => new RegExp(`(?<![A-Z_])${status.replace(/_/g, '[ _]')}(?![A-Z_])`, 'gi');

describe('the expected tables themselves', () => {
  it('cover exactly the nine operations and eight statuses of docs/contract.md', () => {
    expect([...ALL_OPERATIONS].sort()).toEqual([...OPERATIONS].sort());
    expect(OPERATIONS.map(String)).toEqual(['reply', 'edit', 'assign', 'startProcessing', 'requestInformation', 'fix', 'close', 'reopen', 'cancel']);
    expect(Object.values(TicketStatus).sort()).toEqual([...STATUSES].sort());
  });

  it.each(VIEWER_KINDS.map((kind) => [kind.name, kind] as const))('grid of %s agrees with docs/contract.md rule table', (_name, kind) => {
    for (const status of STATUSES) {
      expect(kind.grid[status]).toMatch(/^[AFC]{9}$/);
      for (const operation of OPERATIONS) {
        expect({ status, operation, outcome: gridOutcome(kind, operation, status) }).toEqual({
          status,
          operation,
          outcome: specOutcome(kind, operation, status),
        });
      }
    }
  });
});

describe('decide: status × operation × viewer', () => {
  it.each(CELLS)('$who: $operation on $status → $expected', ({ kind, status, operation, expected }) => {
    const ticket = ticketFor(kind, status);
    const decision = decide(kind.viewer, operation, ticket);
    const rule = SPEC_RULES[operation];

    switch (expected) {
      case 'A':
        expect(decision).toEqual({ allowed: true });
        expect(can(kind.viewer, operation, ticket)).toBe(true);
        expect(() => assertCan(kind.viewer, operation, ticket)).not.toThrow();
        break;
      case 'F':
        expect(decision).toEqual({ allowed: false, code: ErrorCode.FORBIDDEN, message: rule.forbidden });
        expect(can(kind.viewer, operation, ticket)).toBe(false);
        expectThrows(() => assertCan(kind.viewer, operation, ticket), ErrorCode.FORBIDDEN, rule.forbidden);
        break;
      case 'C': {
        expect(decision).toMatchObject({ allowed: false, code: ErrorCode.CONFLICT });
        const message = (decision as { message: string }).message;
        expect(message).not.toBe(rule.forbidden);
        // 409 names the current status and, for a transition, the target status too.
        const current = message.match(statusPattern(status)) ?? [];
        expect(current.length).toBeGreaterThanOrEqual(rule.to === status ? 2 : 1);
        if (rule.to) expect(message).toMatch(statusPattern(rule.to));
        expect(can(kind.viewer, operation, ticket)).toBe(false);
        expectThrows(() => assertCan(kind.viewer, operation, ticket), ErrorCode.CONFLICT, message);
        break;
      }
    }
  });
});

function expectThrows(action: () => void, code: ErrorCode, message: string): void {
  let thrown: unknown;
  try {
    action();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(DomainError);
  expect(thrown).toMatchObject({ code, message });
}

describe('conflict messages', () => {
  it.each([
    [Op.CLOSE, S.NEW, 'NEW', 'CLOSED'],
    [Op.REOPEN, S.IN_PROCESSING, 'IN_PROCESSING', 'REOPEN'],
    [Op.START_PROCESSING, S.FIXED, 'FIXED', 'IN_PROCESSING'],
    [Op.FIX, S.REQUEST_INFORMATION, 'REQUEST_INFORMATION', 'FIXED'],
    [Op.REQUEST_INFORMATION, S.REOPEN, 'REOPEN', 'REQUEST_INFORMATION'],
    [Op.ASSIGN, S.CLOSED, 'CLOSED', 'ASSIGNED'],
    [Op.CANCEL, S.CANCEL, 'CANCEL', 'CANCEL'],
  ] as const)('%s from %s names %s and %s', (operation, status, current, target) => {
    const every = VIEWER_KINDS.find((kind) => kind.grid === EVERYTHING)!;
    const decision = decide(every.viewer, operation, ticketFor(every, status));
    expect(decision).toMatchObject({ allowed: false, code: ErrorCode.CONFLICT });
    const message = (decision as { message: string }).message;
    expect(message).toMatch(statusPattern(current as TicketStatus));
    expect(message).toMatch(statusPattern(target as TicketStatus));
  });
});

describe('canView: docs/contract.md "Who sees what"', () => {
  const cases = VIEWER_KINDS.flatMap((kind) => STATUSES.map((status) => ({ who: kind.name, kind, status, sees: specSees(kind, status) })));

  it.each(cases)('$who, $status → $sees', ({ kind, status, sees }) => {
    expect(canView(kind.viewer, ticketFor(kind, status))).toBe(sees);
  });

  it.each(STATUSES)('a scheduler always sees a %s ticket', (status) => {
    expect(canView(viewer(20, [SC]), { status, customerId: CREATOR_ID, staffId: null })).toBe(true);
    expect(canView(viewer(20, [SC]), { status, customerId: CREATOR_ID, staffId: ASSIGNEE_ID })).toBe(true);
  });

  it.each(STATUSES)('other customers and other staff never see a %s ticket', (status) => {
    const ticket: TicketFacts = { status, customerId: CREATOR_ID, staffId: status === S.NEW ? null : ASSIGNEE_ID };
    expect(canView(viewer(2, [C]), ticket)).toBe(false);
    expect(canView(viewer(11, [ST]), ticket)).toBe(false);
  });

  it('staff never see a NEW ticket, even one that names them as staff', () => {
    const staff = viewer(ASSIGNEE_ID, [ST]);
    expect(canView(staff, { status: S.NEW, customerId: CREATOR_ID, staffId: ASSIGNEE_ID })).toBe(false);
    expect(canView(staff, { status: S.NEW, customerId: CREATOR_ID, staffId: null })).toBe(false);
  });

  it('the creating customer sees their ticket in every status', () => {
    for (const status of STATUSES) {
      expect(canView(viewer(CREATOR_ID, [C]), { status, customerId: CREATOR_ID, staffId: null })).toBe(true);
    }
  });
});

describe('permissionsFor: flags and mutations share one rule', () => {
  const cases = VIEWER_KINDS.flatMap((kind) => STATUSES.map((status) => ({ who: kind.name, kind, status })));

  it.each(cases)('$who, $status', ({ kind, status }) => {
    const ticket = ticketFor(kind, status);
    const flags = permissionsFor(kind.viewer, ticket);
    expect(Object.keys(flags).sort()).toEqual([...OPERATIONS].sort());
    for (const operation of OPERATIONS) {
      expect({ operation, flag: flags[operation] }).toEqual({
        operation,
        flag: can(kind.viewer, operation, ticket),
      });
      expect({ operation, flag: flags[operation] }).toEqual({
        operation,
        flag: gridOutcome(kind, operation, status) === 'A',
      });
    }
  });
});

describe('transitionInto', () => {
  it.each([
    [S.NEW, undefined], // created, never transitioned into
    [S.ASSIGNED, Op.ASSIGN],
    [S.FIXED, Op.FIX],
    [S.CLOSED, Op.CLOSE],
    [S.REOPEN, Op.REOPEN],
    [S.REQUEST_INFORMATION, Op.REQUEST_INFORMATION],
    [S.CANCEL, Op.CANCEL],
    [S.IN_PROCESSING, Op.START_PROCESSING],
  ] as const)('%s ← %s', (status, operation) => {
    expect(transitionInto(status)).toBe(operation);
  });
});

describe('canCreate: customers file tickets', () => {
  it.each([
    ['customer', [C], true],
    ['staff', [ST], false],
    ['scheduler', [SC], false],
    ['customer+staff', [C, ST], true],
    ['scheduler+customer', [SC, C], true],
    ['staff+scheduler', [ST, SC], false],
    ['every role', [C, ST, SC], true],
    ['no role', [], false],
  ] as const)('%s → %s', (_name, roles, expected) => {
    expect(canCreate(viewer(50, [...roles]))).toBe(expected);
  });

  it('an administrator without the customer role may not create', () => {
    expect(canCreate(viewer(51, [ST, SC], true))).toBe(false);
  });
});

describe('MESSAGES: the other 403s of the seed, word for word', () => {
  it('create, view (detail and reply), delete reply', () => {
    expect(MESSAGES.create).toBe('You are not allowed to create ticket');
    expect(MESSAGES.view).toBe('You are not allowed to check this ticket');
    expect(MESSAGES.deleteReply).toBe('You are not allowed to delete this reply');
  });

  it.each([
    [Role.CUSTOMER, 'You are not allowed to list tickets as customer'],
    [Role.STAFF, 'You are not allowed to list tickets as staff'],
    [Role.SCHEDULER, 'You are not allowed to list tickets as scheduler'],
  ])('listing as %s', (role, message) => {
    expect(MESSAGES.listAs(role)).toBe(message);
  });
});
