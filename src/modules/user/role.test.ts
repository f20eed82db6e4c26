import { ALL_ROLES, normalizeRoles, parseRole, Role, ROLE_CODE } from './role';

/** docs/contract.md "Roles", copied out. */
const SPEC_ROLES = [
  { code: 1, name: 'customer', role: Role.CUSTOMER },
  { code: 2, name: 'staff', role: Role.STAFF },
  { code: 3, name: 'scheduler', role: Role.SCHEDULER },
] as const;

describe('Role', () => {
  it.each(SPEC_ROLES)('$role has code $code', ({ code, role }) => {
    expect(ROLE_CODE[role]).toBe(code);
  });

  it('has exactly the three roles of docs/contract.md, in code order', () => {
    expect(ALL_ROLES).toEqual([Role.CUSTOMER, Role.STAFF, Role.SCHEDULER]);
    expect(Object.values(Role)).toEqual(['CUSTOMER', 'STAFF', 'SCHEDULER']);
  });
});

describe('parseRole', () => {
  describe.each(SPEC_ROLES)('$role', ({ code, name, role }) => {
    it.each([
      ['lower case', name],
      ['upper case', name.toUpperCase()],
      ['capitalized', name[0].toUpperCase() + name.slice(1)],
      ['mixed case', [...name].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('')],
      ['the code as a number', code],
      ['the code as a string', String(code)],
    ])('reads %s (%p)', (_how, input) => {
      expect(parseRole(input)).toBe(role);
    });
  });

  it.each([
    ['code 0', 0],
    ['code 4', 4],
    ['code 4 as a string', '4'],
    ['-1', -1],
    ['1.5', 1.5],
    ['1.5 as a string', '1.5'],
    ['NaN', NaN],
    ['empty string', ''],
    ['an unknown name', 'admin'],
    ['a plural', 'customers'],
    ['a prefix', 'sched'],
    ['null', null],
    ['undefined', undefined],
    ['an object', {}],
    ['an array', []],
    ['an array holding a role', ['staff']],
    ['true', true],
  ])('rejects %s', (_what, input) => {
    expect(parseRole(input)).toBeUndefined();
  });
});

describe('normalizeRoles', () => {
  it.each([
    [[], []],
    [[Role.SCHEDULER], [Role.SCHEDULER]],
    [
      [Role.SCHEDULER, Role.CUSTOMER],
      [Role.CUSTOMER, Role.SCHEDULER],
    ],
    [
      [Role.STAFF, Role.STAFF, Role.CUSTOMER, Role.STAFF],
      [Role.CUSTOMER, Role.STAFF],
    ],
    [
      [Role.SCHEDULER, Role.STAFF, Role.CUSTOMER],
      [Role.CUSTOMER, Role.STAFF, Role.SCHEDULER],
    ],
    [
      [Role.SCHEDULER, Role.SCHEDULER, Role.CUSTOMER, Role.STAFF, Role.CUSTOMER],
      [Role.CUSTOMER, Role.STAFF, Role.SCHEDULER],
    ],
  ])('%p → %p', (input, expected) => {
    const copy = [...input];
    expect(normalizeRoles(input)).toEqual(expected);
    expect(input).toEqual(copy); // the input is not reordered in place
  });

  it('accepts any iterable', () => {
    expect(normalizeRoles(new Set([Role.STAFF, Role.CUSTOMER]))).toEqual([Role.CUSTOMER, Role.STAFF]);
  });
});
