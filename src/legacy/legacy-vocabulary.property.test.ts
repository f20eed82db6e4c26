import fc from 'fast-check';
import { ALL_STATUSES, parseStatus, TicketStatus } from '../modules/ticket/ticket-status';
import { anyCase, fold, nearMiss, padding, spelled } from '../../test/support/status-spellings';
import { ANY_STATUS, parseStatusFilter } from './legacy-vocabulary';

/** Property tests of the legacy list filter: "ALL" and 0 mean no filter, anything else reads as a status does. */
describe('parseStatusFilter (properties)', () => {
  const filterResults: ReadonlyArray<TicketStatus | typeof ANY_STATUS | undefined> = [...ALL_STATUSES, ANY_STATUS, undefined];

  it('never throws and answers a status, ALL or undefined, whatever the value', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything({ withBigInt: true, withNullPrototype: true }), fc.string({ unit: 'binary' }), nearMiss), (value) =>
        filterResults.includes(parseStatusFilter(value)),
      ),
      { numRuns: 5000 },
    );
  });

  it('reads "ALL" in any case with padding, and 0 as a number or string, as no filter', () => {
    fc.assert(
      fc.property(
        anyCase('ALL'),
        padding,
        padding,
        (all, before, after) => parseStatusFilter(`${before}${all}${after}`) === ANY_STATUS && parseStatusFilter(`${before}0${after}`) === ANY_STATUS,
      ),
      { numRuns: 500 },
    );
    expect(parseStatusFilter(0)).toBe(ANY_STATUS);
  });

  it('reads everything else exactly as parseStatus does', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          nearMiss,
          spelled.map(({ text }) => text),
          fc.string(),
          fc.integer({ min: -3, max: 12 }),
        ),
        (value) => {
          const isAll = value === 0 || (typeof value === 'string' && (/^\s*0\s*$/.test(value) || fold(value) === 'ALL'));
          fc.pre(!isAll);
          return parseStatusFilter(value) === parseStatus(value);
        },
      ),
      { numRuns: 5000 },
    );
  });
});
