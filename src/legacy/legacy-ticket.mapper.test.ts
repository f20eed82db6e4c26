import type { TicketView } from '../modules/ticket/ticket.query';
import { ALL_STATUSES, TicketStatus } from '../modules/ticket/ticket-status';
import { permissionsFor, TicketOperation } from '../modules/ticket/ticket.rules';
import { Role } from '../modules/user/role';
import type { Viewer } from '../modules/user/viewer';
import { LEGACY_PERMISSION_OPERATIONS, toLegacyPermission, toLegacyPermissionCheck, toLegacyTicket } from './legacy-ticket.mapper';

const viewer = (id: number, ...roles: Role[]): Viewer => ({ id, username: `u${id}`, roles, isAdmin: false });
const CUSTOMER = viewer(1, Role.CUSTOMER);
const STAFF = viewer(2, Role.STAFF);
const SCHEDULER = viewer(3, Role.SCHEDULER);
const user = (who: Viewer) => ({ id: who.id, username: who.username, roles: [...who.roles] });

function view(status: TicketStatus, overrides: Partial<TicketView> = {}): TicketView {
  return {
    id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    status,
    content: 'abcdef',
    imageIds: [],
    customerId: CUSTOMER.id,
    staffId: status === TicketStatus.NEW ? null : STAFF.id,
    customer: user(CUSTOMER),
    scheduler: status === TicketStatus.NEW ? null : user(SCHEDULER),
    staff: status === TicketStatus.NEW ? null : user(STAFF),
    replies: [],
    history: [],
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    ...overrides,
  };
}

describe('LEGACY_PERMISSION_OPERATIONS', () => {
  it('has the 8 keys of docs/contract.md in order, each reporting its operation', () => {
    expect(LEGACY_PERMISSION_OPERATIONS).toEqual([
      ['reply', TicketOperation.REPLY],
      ['ASSIGNED', TicketOperation.ASSIGN],
      ['FIXED', TicketOperation.FIX],
      ['CLOSED', TicketOperation.CLOSE],
      ['REOPENED', TicketOperation.REOPEN],
      ['PENDING', TicketOperation.REQUEST_INFORMATION],
      ['CANCEL', TicketOperation.CANCEL],
      ['IN PROCESSING', TicketOperation.START_PROCESSING],
    ]);
  });
});

describe('toLegacyPermission', () => {
  it.each([
    ['the customer on a NEW ticket (seed 2.4)', CUSTOMER, TicketStatus.NEW, { reply: 1, CANCEL: 1 }],
    ['the scheduler on a NEW ticket', SCHEDULER, TicketStatus.NEW, { reply: 1, ASSIGNED: 1, CANCEL: 1 }],
    ['the assigned staff member on an ASSIGNED ticket', STAFF, TicketStatus.ASSIGNED, { reply: 1, FIXED: 1, PENDING: 1, 'IN PROCESSING': 1 }],
    ['the scheduler on a FIXED ticket', SCHEDULER, TicketStatus.FIXED, { reply: 1, CLOSED: 1 }],
    ['the customer on a CLOSED ticket', CUSTOMER, TicketStatus.CLOSED, { REOPENED: 1 }],
    ['anyone on a CANCEL ticket', SCHEDULER, TicketStatus.CANCEL, {}],
    ['another staff member', viewer(9, Role.STAFF), TicketStatus.ASSIGNED, {}],
  ])('%s', (_name, who, status, granted) => {
    const expected = { reply: 0, ASSIGNED: 0, FIXED: 0, CLOSED: 0, REOPENED: 0, PENDING: 0, CANCEL: 0, 'IN PROCESSING': 0, ...granted };
    expect(toLegacyPermission(who, view(status))).toEqual(expected);
  });

  it.each(ALL_STATUSES)('agrees with permissionsFor for every viewer on a %s ticket', (status) => {
    for (const who of [CUSTOMER, STAFF, SCHEDULER, viewer(4, Role.CUSTOMER, Role.STAFF, Role.SCHEDULER)]) {
      const flags = toLegacyPermission(who, view(status));
      const permissions = permissionsFor(who, view(status));
      for (const [key, operation] of LEGACY_PERMISSION_OPERATIONS) expect(flags[key]).toBe(permissions[operation] ? 1 : 0);
    }
  });
});

describe('toLegacyTicket', () => {
  it('prints the seed shape: hyphenated keys, integer ids, codes, integer ms dates, absolute image URLs', () => {
    const ticket = view(TicketStatus.IN_PROCESSING, {
      imageIds: ['0190a1b2-c3d4-7e5f-8a9b-000000000001'],
      replies: [{ id: 'r1', ticketId: 't', content: 'hi', author: user(STAFF), createdAt: 1_700_000_000_123.999 }],
      history: [
        { id: 'h1', status: TicketStatus.NEW, actor: user(CUSTOMER), at: 1_700_000_000_000.5 },
        { id: 'h2', status: TicketStatus.IN_PROCESSING, actor: user(STAFF), at: 1_700_000_000_100 },
      ],
    });
    expect(toLegacyTicket(ticket, STAFF, 'http://example.test/base/')).toEqual({
      uuid: ticket.id,
      'customer-id': 1,
      'scheduler-id': 3,
      'staff-id': 2,
      content: 'abcdef',
      images: ['http://example.test/base/images/0190a1b2-c3d4-7e5f-8a9b-000000000001'],
      reply: [{ uuid: 'r1', date: 1_700_000_000_123, userid: 2, content: 'hi' }],
      'operating-history': [
        { uuid: 'h1', date: 1_700_000_000_000, userid: 1, status: 1 },
        { uuid: 'h2', date: 1_700_000_000_100, userid: 2, status: 8 },
      ],
      status: 8,
      permission: { reply: 1, ASSIGNED: 0, FIXED: 1, CLOSED: 0, REOPENED: 0, PENDING: 1, CANCEL: 0, 'IN PROCESSING': 0 },
    });
  });

  it('prints null for a ticket nobody scheduled or was assigned', () => {
    expect(toLegacyTicket(view(TicketStatus.NEW), CUSTOMER, 'http://h')).toMatchObject({
      'scheduler-id': null,
      'staff-id': null,
      reply: [],
      'operating-history': [],
    });
  });
});

describe('toLegacyPermissionCheck', () => {
  it('answers the id as a string and the role names in canonical order', () => {
    expect(toLegacyPermissionCheck(viewer(123456, Role.CUSTOMER, Role.SCHEDULER))).toEqual({ userid: '123456', operator: ['customer', 'scheduler'] });
  });
});
