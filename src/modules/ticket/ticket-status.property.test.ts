import fc from 'fast-check';
import { ALL_STATUSES, ANY_STATUS, parseStatus, parseStatusFilter, TicketStatus } from './ticket-status';

/**
 * Property tests of the forgiving status reader (SPEC "Statuses"): whatever arrives from a
 * request, it answers a status, "no filter" or undefined, never throws, and reads every spelling
 * SPEC allows the same way whatever its case and separators. The spellings are copied out of
 * SPEC here, not taken from the implementation.
 */

const S = TicketStatus;

/** Every spelling SPEC names, word by word: canonical names, legacy names, aliases. */
const SPELLINGS: ReadonlyArray<readonly [words: readonly string[], status: TicketStatus]> = [
  [['NEW'], S.NEW],
  [['ASSIGNED'], S.ASSIGNED],
  [['FIXED'], S.FIXED],
  [['CLOSED'], S.CLOSED],
  [['REOPEN'], S.REOPEN],
  [['REOPENED'], S.REOPEN],
  [['REQUEST', 'INFORMATION'], S.REQUEST_INFORMATION],
  [['PENDING'], S.REQUEST_INFORMATION],
  [['CANCEL'], S.CANCEL],
  [['CANCELLED'], S.CANCEL],
  [['CANCELED'], S.CANCEL],
  [['IN', 'PROCESSING'], S.IN_PROCESSING],
  [['PROCESSING'], S.IN_PROCESSING],
];

/** SPEC "Statuses": the numeric codes. */
const CODES: ReadonlyArray<readonly [number, TicketStatus]> = [
  [1, S.NEW],
  [2, S.ASSIGNED],
  [3, S.FIXED],
  [4, S.CLOSED],
  [5, S.REOPEN],
  [6, S.REQUEST_INFORMATION],
  [7, S.CANCEL],
  [8, S.IN_PROCESSING],
];

/** The oracle's folding, written from SPEC's sentence: any case; spaces, `_` and `-` alike. */
const KNOWN = new Map(SPELLINGS.map(([words, status]) => [words.join('_'), status]));
const fold = (text: string): string => text.trim().toUpperCase().replace(/[ \t\r\n_-]+/g, '_');

/** What SPEC says an ASCII string means. */
function oracle(text: string): TicketStatus | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return CODES.find(([code]) => code === Number(trimmed))?.[1];
  return KNOWN.get(fold(text));
}

const separator = fc.stringMatching(/^[ _-]{1,3}$/);
const padding = fc.stringMatching(/^[ \t\r\n]{0,3}$/);

/** One letter in either case. */
const anyCase = (word: string): fc.Arbitrary<string> =>
  fc.tuple(...[...word].map((char) => fc.constantFrom(char.toLowerCase(), char.toUpperCase()))).map((chars) => chars.join(''));

/** A SPEC spelling with random case, random separator runs between words and random padding. */
const spelled = fc.constantFrom(...SPELLINGS).chain(([words, status]) =>
  fc
    .tuple(padding, fc.tuple(...words.map(anyCase)), fc.array(separator, { minLength: words.length, maxLength: words.length }), padding)
    .map(([before, cased, separators, after]) => ({
      text: before + cased.map((word, index) => (index === 0 ? word : separators[index] + word)).join('') + after,
      status,
    })),
);

/** ASCII text made mostly of status-word pieces, separators and digits: near misses galore. */
const nearMiss = fc
  .array(
    fc.oneof(
      fc.constantFrom('NEW', 'new', 'ASSIGN', 'ED', 'FIX', 'CLOSE', 'D', 'RE', 'OPEN', 'REQUEST', 'INFO', 'RMATION', 'PEND', 'ING', 'CANCEL', 'L', 'IN', 'PROCESS', 'ALL', 'all'),
      fc.constantFrom(' ', '_', '-', '  ', '\t', '.', '/', '0', '1', '8', '9', '+', 'é', 'ı'),
    ),
    { maxLength: 6 },
  )
  .map((pieces) => pieces.join(''));

const statusesOrUndefined: ReadonlyArray<TicketStatus | undefined> = [...ALL_STATUSES, undefined];

describe('parseStatus (properties)', () => {
  it('never throws and answers a status or undefined, whatever the value', () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withBoxedValues: true, withMap: true, withSet: true, withNullPrototype: true }), (value) => statusesOrUndefined.includes(parseStatus(value))),
      { numRuns: 5000 },
    );
  });

  it('never throws on any string, including unicode, huge and control characters', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string({ maxLength: 2000 })), (text) => statusesOrUndefined.includes(parseStatus(text))),
      { numRuns: 5000 },
    );
  });

  it('reads every SPEC spelling in any case, with any separators and padding', () => {
    fc.assert(
      fc.property(spelled, ({ text, status }) => parseStatus(text) === status),
      { numRuns: 5000 },
    );
  });

  it('agrees with SPEC on ASCII near misses: a spelling, a code, or nothing', () => {
    fc.assert(
      fc.property(nearMiss, (text) => {
        // Non-ASCII letters are left out of the oracle: SPEC's case rule is about ASCII names.
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
      fc.property(fc.oneof(nearMiss, spelled.map(({ text }) => text)), fc.constantFrom(' ', '_', '-'), (text, replacement) => {
        fc.pre(/^[\x00-\x7f]*$/.test(text));
        const base = parseStatus(text);
        // Separators between words are interchangeable (leading/trailing `_`/`-` are not padding).
        const swapped = text.replace(/(?<=[A-Za-z])[ _-]+(?=[A-Za-z])/g, replacement);
        return parseStatus(text.toLowerCase()) === base && parseStatus(text.toUpperCase()) === base && parseStatus(swapped) === base;
      }),
      { numRuns: 5000 },
    );
  });
});

describe('parseStatusFilter (properties)', () => {
  const filterResults: ReadonlyArray<TicketStatus | typeof ANY_STATUS | undefined> = [...ALL_STATUSES, ANY_STATUS, undefined];

  it('never throws and answers a status, ALL or undefined, whatever the value', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything({ withBigInt: true, withNullPrototype: true }), fc.string({ unit: 'binary' }), nearMiss), (value) => filterResults.includes(parseStatusFilter(value))),
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
      fc.property(fc.oneof(nearMiss, spelled.map(({ text }) => text), fc.string(), fc.integer({ min: -3, max: 12 })), (value) => {
        const isAll = value === 0 || (typeof value === 'string' && (/^\s*0\s*$/.test(value) || fold(value) === 'ALL'));
        fc.pre(!isAll);
        return parseStatusFilter(value) === parseStatus(value);
      }),
      { numRuns: 5000 },
    );
  });
});
