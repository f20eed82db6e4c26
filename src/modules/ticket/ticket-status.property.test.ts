import fc from 'fast-check';
import { ALL_STATUSES, parseStatus, TicketStatus } from './ticket-status';
import { CODES, nearMiss, oracle, padding, spelled } from '../../../test/support/status-spellings';

/**
 * Property tests of the forgiving status reader (docs/contract.md "Statuses"): whatever arrives from a
 * request, it answers a status, "no filter" or undefined, never throws, and reads every spelling
 * docs/contract.md allows the same way whatever its case and separators. The spellings are copied out of
 * docs/contract.md here, not taken from the implementation.
 */

const statusesOrUndefined: ReadonlyArray<TicketStatus | undefined> = [...ALL_STATUSES, undefined];

describe('parseStatus (properties)', () => {
  it('never throws and answers a status or undefined, whatever the value', () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withBoxedValues: true, withMap: true, withSet: true, withNullPrototype: true }), (value) =>
        statusesOrUndefined.includes(parseStatus(value)),
      ),
      { numRuns: 5000 },
    );
  });

  it('never throws on any string, including unicode, huge and control characters', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string({ maxLength: 2000 })), (text) =>
        statusesOrUndefined.includes(parseStatus(text)),
      ),
      { numRuns: 5000 },
    );
  });

  it('reads every docs/contract.md spelling in any case, with any separators and padding', () => {
    fc.assert(
      fc.property(spelled, ({ text, status }) => parseStatus(text) === status),
      { numRuns: 5000 },
    );
  });

  it('agrees with docs/contract.md on ASCII near misses: a spelling, a code, or nothing', () => {
    fc.assert(
      fc.property(nearMiss, (text) => {
        // Non-ASCII letters are left out of the oracle: the contract's case rule is about ASCII names.
        fc.pre(/^[\x00-\x7f]*$/.test(text));
        return parseStatus(text) === oracle(text);
      }),
      { numRuns: 5000 },
    );
  });

  it('reads the code as an integer or a numeric string, and nothing else numeric', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -20, max: 30 }), fc.double()), padding, padding, (number, before, after) => {
        const expected = CODES.find(([code]) => code === number)?.[1];
        const asText = Number.isInteger(number) && number >= 0 ? parseStatus(`${before}${number}${after}`) : expected;
        return parseStatus(number) === expected && asText === expected;
      }),
      { numRuns: 3000 },
    );
  });

  it('is invariant under ASCII case changes and separator swaps', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          nearMiss,
          spelled.map(({ text }) => text),
        ),
        fc.constantFrom(' ', '_', '-'),
        (text, replacement) => {
          fc.pre(/^[\x00-\x7f]*$/.test(text));
          const base = parseStatus(text);
          // Separators between words are interchangeable (leading/trailing `_`/`-` are not padding).
          const swapped = text.replace(/(?<=[A-Za-z])[ _-]+(?=[A-Za-z])/g, replacement);
          return parseStatus(text.toLowerCase()) === base && parseStatus(text.toUpperCase()) === base && parseStatus(swapped) === base;
        },
      ),
      { numRuns: 5000 },
    );
  });
});
