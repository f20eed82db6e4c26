import { ALL_STATUSES, parseStatus, STATUS_CODE, statusFromCode, TicketStatus } from './ticket-status';
import { SPEC_STATUSES } from '../../../test/support/spec-tables';

const S = TicketStatus;

const mixedCase = (text: string): string => [...text].map((char, index) => (index % 2 === 0 ? char.toLowerCase() : char.toUpperCase())).join('');

describe('TicketStatus', () => {
  it('has exactly the GraphQL enum values of docs/contract.md, in code order', () => {
    expect(ALL_STATUSES).toEqual(SPEC_STATUSES.map((row) => row.status));
    expect(Object.values(TicketStatus)).toEqual(['NEW', 'ASSIGNED', 'FIXED', 'CLOSED', 'REOPEN', 'REQUEST_INFORMATION', 'CANCEL', 'IN_PROCESSING']);
  });
});

describe('parseStatus', () => {
  describe.each(SPEC_STATUSES)('$status (code $code)', ({ code, legacy, status }) => {
    it.each([
      ['the GraphQL name', status],
      ['the legacy name', legacy],
      ['lower case', status.toLowerCase()],
      ['legacy lower case', legacy.toLowerCase()],
      ['upper case', legacy.toUpperCase()],
      ['mixed case', mixedCase(status)],
      ['legacy mixed case', mixedCase(legacy)],
      ['the code as a number', code],
      ['the code as a string', String(code)],
    ])('reads %s (%p)', (_how, input) => {
      expect(parseStatus(input)).toBe(status);
    });
  });

  it.each([
    ['in processing', S.IN_PROCESSING],
    ['IN PROCESSING', S.IN_PROCESSING],
    ['IN-PROCESSING', S.IN_PROCESSING],
    ['in_processing', S.IN_PROCESSING],
    ['In-Processing', S.IN_PROCESSING],
    ['in-processing', S.IN_PROCESSING],
    ['Request Information', S.REQUEST_INFORMATION],
    ['request-information', S.REQUEST_INFORMATION],
    ['REQUEST-INFORMATION', S.REQUEST_INFORMATION],
    ['request_information', S.REQUEST_INFORMATION],
    ['request information', S.REQUEST_INFORMATION],
    ['Request_Information', S.REQUEST_INFORMATION],
  ])('spaces, underscores and hyphens are the same: %p', (input, status) => {
    expect(parseStatus(input)).toBe(status);
  });

  it.each([
    ['REOPENED', S.REOPEN],
    ['reopened', S.REOPEN],
    ['Reopened', S.REOPEN],
    ['PENDING', S.REQUEST_INFORMATION],
    ['pending', S.REQUEST_INFORMATION],
    ['CANCELLED', S.CANCEL],
    ['cancelled', S.CANCEL],
    ['CANCELED', S.CANCEL],
    ['Canceled', S.CANCEL],
    ['PROCESSING', S.IN_PROCESSING],
    ['processing', S.IN_PROCESSING],
  ])('alias %p', (input, status) => {
    expect(parseStatus(input)).toBe(status);
  });

  it.each([
    ['code 0', 0],
    ['code 0 as a string', '0'],
    ['code 9', 9],
    ['code 9 as a string', '9'],
    ['-1', -1],
    ['-1 as a string', '-1'],
    ['1.5', 1.5],
    ['1.5 as a string', '1.5'],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['empty string', ''],
    ['blank string', '   '],
    ['an unknown name', 'foo'],
    ['ALL (a filter, not a status)', 'ALL'],
    ['null', null],
    ['undefined', undefined],
    ['an object', {}],
    ['an array', []],
    ['an array holding a status', ['NEW']],
    ['true', true],
    ['false', false],
  ])('rejects %s', (_what, input) => {
    expect(parseStatus(input)).toBeUndefined();
  });
});

describe('STATUS_CODE and statusFromCode', () => {
  it.each(SPEC_STATUSES)('$status ↔ $code', ({ code, status }) => {
    expect(STATUS_CODE[status]).toBe(code);
    expect(statusFromCode(code)).toBe(status);
    expect(statusFromCode(STATUS_CODE[status])).toBe(status);
  });

  it('codes are exactly 1..8, one per status', () => {
    expect(Object.values(STATUS_CODE).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it.each([0, 9, -1, 1.5, NaN])('unknown code %p throws', (code) => {
    expect(() => statusFromCode(code)).toThrow();
  });
});
