import { parseStatus, TicketStatus } from '../modules/ticket/ticket-status';
import { Role } from '../modules/user/role';
import { SPEC_STATUSES } from '../../test/support/spec-tables';
import { ANY_STATUS, LEGACY_PERMISSION_KEY, LEGACY_ROLE_NAME, parseStatusFilter } from './legacy-vocabulary';

const S = TicketStatus;

describe('LEGACY_ROLE_NAME', () => {
  it.each([
    [Role.CUSTOMER, 'customer'],
    [Role.STAFF, 'staff'],
    [Role.SCHEDULER, 'scheduler'],
  ])('%s is %s (docs/contract.md "Roles")', (role, name) => {
    expect(LEGACY_ROLE_NAME[role]).toBe(name);
  });
});

describe('parseStatusFilter', () => {
  it.each([['ALL'], ['all'], ['All'], [0], ['0']])('%p means no filter', (input) => {
    expect(parseStatusFilter(input)).toBe('ALL');
    expect(ANY_STATUS).toBe('ALL');
  });

  it.each([
    ...SPEC_STATUSES.flatMap(({ code, legacy, status }) => [
      [status, status],
      [legacy.toLowerCase(), status],
      [code, status],
      [String(code), status],
    ]),
    ['in-processing', S.IN_PROCESSING],
    ['pending', S.REQUEST_INFORMATION],
    ['canceled', S.CANCEL],
  ] as [unknown, TicketStatus][])('%p reads as parseStatus does: %s', (input, status) => {
    expect(parseStatusFilter(input)).toBe(status);
    expect(parseStatusFilter(input)).toBe(parseStatus(input));
  });

  // An absent `status` field is the transport's business; as a value, undefined names nothing.
  it.each([[9], ['9'], [-1], [1.5], [''], ['foo'], [null], [undefined], [{}], [[]], [true], [NaN]])('rejects %p', (input) => {
    expect(parseStatusFilter(input)).toBeUndefined();
  });
});

describe('LEGACY_PERMISSION_KEY', () => {
  it.each(SPEC_STATUSES)('$status → $permissionKey', ({ status, permissionKey }) => {
    expect(LEGACY_PERMISSION_KEY[status]).toBe(permissionKey);
  });

  it('with "reply", gives exactly the keys of the legacy `permission` object', () => {
    expect(['reply', ...Object.values(LEGACY_PERMISSION_KEY)].sort()).toEqual(
      ['reply', 'ASSIGNED', 'FIXED', 'CLOSED', 'REOPENED', 'PENDING', 'CANCEL', 'IN PROCESSING'].sort(),
    );
  });
});
