import fc from 'fast-check';
import { DomainError, ErrorCode } from '../shared/errors';
import { TicketStatus } from '../modules/ticket/ticket-status';
import { TicketOperation } from '../modules/ticket/ticket.rules';
import { Role } from '../modules/user/role';
import {
  asFields,
  checkCreateStatus,
  describe as describeValue,
  MAX_LEGACY_PAGE_SIZE,
  readOperator,
  readPaging,
  readStatusFilter,
  readTransition,
  readUuid,
  renameField,
  withLegacyFieldNames,
} from './legacy-fields';

/** Runs `read` and returns the BAD_INPUT it throws (fails the test otherwise). */
function badInputOf(read: () => unknown): DomainError {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe(ErrorCode.BAD_INPUT);
    return error as DomainError;
  }
  throw new Error('expected BAD_INPUT');
}

describe('asFields', () => {
  it('takes a JSON object', () => {
    expect(asFields({ action: 'list' })).toEqual({ action: 'list' });
  });

  it.each([[undefined], [null], [''], [[]], ['list'], [5], [true]])('refuses %j naming body', (body) => {
    expect(badInputOf(() => asFields(body)).details.field).toBe('body');
  });
});

describe('describe', () => {
  it('never echoes a long string', () => {
    expect(describeValue('x'.repeat(1000))).toHaveLength(43);
    expect(describeValue({ a: 1 })).toBe('an object');
    expect(describeValue([1])).toBe('an array');
    expect(describeValue(5)).toBe('number 5');
  });
});

describe('readUuid', () => {
  it('lower-cases a UUID, and names the field otherwise', () => {
    expect(readUuid({ uuid: '0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B' }, 'uuid')).toBe('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');
    expect(badInputOf(() => readUuid({}, 'reply-uuid')).message).toBe('reply-uuid is required');
    expect(badInputOf(() => readUuid({ uuid: '123456' }, 'uuid')).message).toBe('uuid must be a UUID');
  });
});

describe('checkCreateStatus', () => {
  it.each([[undefined], [null], ['new'], ['NEW'], [1], ['1']])('accepts %j', (status) => {
    expect(() => checkCreateStatus({ status })).not.toThrow();
  });
  it.each([['fixed'], [2], ['ALL'], [{}]])('refuses %j', (status) => {
    expect(badInputOf(() => checkCreateStatus({ status })).details.field).toBe('status');
  });
});

describe('readTransition', () => {
  it.each([
    ['ASSIGNED', TicketOperation.ASSIGN],
    ['IN PROCESSING', TicketOperation.START_PROCESSING],
    ['pending', TicketOperation.REQUEST_INFORMATION],
    ['Fixed', TicketOperation.FIX],
    [4, TicketOperation.CLOSE],
    ['REOPENED', TicketOperation.REOPEN],
    ['cancelled', TicketOperation.CANCEL],
  ])('%j is %s', (status, operation) => {
    expect(readTransition({ status })).toBe(operation);
  });

  it('is undefined without a status', () => {
    expect(readTransition({})).toBeUndefined();
    expect(readTransition({ status: null })).toBeUndefined();
  });

  it('refuses NEW and anything that is not a status, naming status', () => {
    expect(badInputOf(() => readTransition({ status: 'NEW' })).message).toMatch(/^status "NEW" is not a change/);
    expect(badInputOf(() => readTransition({ status: 'ALL' })).message).toMatch(/^status must be a ticket status/);
    expect(badInputOf(() => readTransition({ status: 9 })).details.field).toBe('status');
  });
});

describe('readStatusFilter', () => {
  it.each([[undefined], [null], ['ALL'], ['all'], [0], ['0']])('%j means every status', (status) => {
    expect(readStatusFilter({ status })).toBeUndefined();
  });
  it('reads one status in any spelling', () => {
    expect(readStatusFilter({ status: 'request information' })).toEqual([TicketStatus.REQUEST_INFORMATION]);
    expect(readStatusFilter({ status: '7' })).toEqual([TicketStatus.CANCEL]);
  });
  it.each([['bogus'], [{}], [[1]], [9], [-1]])('refuses %j', (status) => {
    expect(badInputOf(() => readStatusFilter({ status })).details.field).toBe('status');
  });
});

describe('readOperator', () => {
  const LIST = [Role.CUSTOMER, Role.STAFF];
  it('reads a role this action lists as, in any case or by code', () => {
    expect(readOperator({ operator: 'Staff' }, LIST)).toBe(Role.STAFF);
    expect(readOperator({ operator: 1 }, LIST)).toBe(Role.CUSTOMER);
    expect(readOperator({}, [Role.SCHEDULER], Role.SCHEDULER)).toBe(Role.SCHEDULER);
  });
  it('refuses a missing operator without a fallback, and roles the action does not list as', () => {
    expect(badInputOf(() => readOperator({}, LIST)).message).toBe('operator is required: "customer" or "staff"');
    expect(badInputOf(() => readOperator({ operator: 'scheduler' }, LIST)).message).toBe('operator must be "customer" or "staff", not "scheduler"');
  });
});

describe('readPaging', () => {
  it('is undefined without page and page-size: old clients get every ticket', () => {
    expect(readPaging({})).toBeUndefined();
    expect(readPaging({ page: null, 'page-size': null })).toBeUndefined();
  });

  it('turns page and page-size into limit and offset', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: MAX_LEGACY_PAGE_SIZE }), (page, size) => {
        expect(readPaging({ page, 'page-size': String(size) })).toEqual({ limit: size, offset: (page - 1) * size });
      }),
    );
    expect(readPaging({ page: 3 })).toEqual({ limit: 20, offset: 40 });
    expect(readPaging({ 'page-size': 5 })).toEqual({ limit: 5, offset: 0 });
  });

  it.each([
    [{ page: 0 }, 'page'],
    [{ page: -1 }, 'page'],
    [{ page: 1.5 }, 'page'],
    [{ page: 'x' }, 'page'],
    [{ page: 1e12 }, 'page'],
    [{ 'page-size': 0 }, 'page-size'],
    [{ 'page-size': MAX_LEGACY_PAGE_SIZE + 1 }, 'page-size'],
    [{ 'page-size': {} }, 'page-size'],
  ])('refuses %j naming %s', (fields, field) => {
    expect(badInputOf(() => readPaging(fields)).details.field).toBe(field);
  });
});

describe('renameField', () => {
  const renames = { staffId: 'staff-id', content: 'reply.content' };

  it('renames the field at the start of the message', () => {
    const renamed = renameField(new DomainError(ErrorCode.BAD_INPUT, 'staffId is required to assign a ticket', { field: 'staffId' }), renames);
    expect(renamed).toMatchObject({ message: 'staff-id is required to assign a ticket', details: { field: 'staff-id' } });
  });

  it('prefixes a message that does not start with the field', () => {
    const renamed = renameField(new DomainError(ErrorCode.BAD_INPUT, 'User 5 is not a staff member', { field: 'staffId' }), renames);
    expect(renamed).toMatchObject({ message: 'staff-id: User 5 is not a staff member', details: { field: 'staff-id' } });
  });

  it('keeps an index suffix', () => {
    const renamed = renameField(new DomainError(ErrorCode.BAD_INPUT, 'pic[2]: no such image', { field: 'pic[2]' }), { pic: 'images' });
    expect(renamed).toMatchObject({ message: 'images[2]: no such image', details: { field: 'images[2]' } });
  });

  it('leaves other errors alone', () => {
    const forbidden = new DomainError(ErrorCode.FORBIDDEN, 'no', { field: 'staffId' });
    expect(renameField(forbidden, renames)).toBe(forbidden);
    const other = new DomainError(ErrorCode.BAD_INPUT, 'uuid must be a UUID', { field: 'uuid' });
    expect(renameField(other, renames)).toBe(other);
    const bug = new TypeError('x');
    expect(renameField(bug, renames)).toBe(bug);
  });

  it('applies to what withLegacyFieldNames runs', async () => {
    await expect(
      withLegacyFieldNames(renames, async () => {
        throw new DomainError(ErrorCode.BAD_INPUT, 'content must be a string', { field: 'content' });
      }),
    ).rejects.toMatchObject({ message: 'reply.content must be a string' });
    await expect(withLegacyFieldNames(renames, async () => 42)).resolves.toBe(42);
  });
});
