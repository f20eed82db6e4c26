import fc from 'fast-check';
import { TicketStatus } from '../../src/modules/ticket/ticket-status';

/*
 * Status spellings as docs/contract.md writes them, and fast-check generators of them and of near misses: for
 * the property tests of the domain's status reader and of the legacy list filter.
 */

const S = TicketStatus;

/** Every spelling docs/contract.md names, word by word: canonical names, legacy names, aliases. */
export const SPELLINGS: ReadonlyArray<readonly [words: readonly string[], status: TicketStatus]> = [
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

/** docs/contract.md "Statuses": the numeric codes. */
export const CODES: ReadonlyArray<readonly [number, TicketStatus]> = [
  [1, S.NEW],
  [2, S.ASSIGNED],
  [3, S.FIXED],
  [4, S.CLOSED],
  [5, S.REOPEN],
  [6, S.REQUEST_INFORMATION],
  [7, S.CANCEL],
  [8, S.IN_PROCESSING],
];

/** The oracle's folding, written from the contract's sentence: any case; spaces, `_` and `-` alike. */
const KNOWN = new Map(SPELLINGS.map(([words, status]) => [words.join('_'), status]));
export const fold = (text: string): string =>
  text
    .trim()
    .toUpperCase()
    .replace(/[ \t\r\n_-]+/g, '_');

/** What docs/contract.md says an ASCII string means. */
export function oracle(text: string): TicketStatus | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return CODES.find(([code]) => code === Number(trimmed))?.[1];
  return KNOWN.get(fold(text));
}

export const separator = fc.stringMatching(/^[ _-]{1,3}$/);
export const padding = fc.stringMatching(/^[ \t\r\n]{0,3}$/);

/** One letter in either case. */
export const anyCase = (word: string): fc.Arbitrary<string> =>
  fc.tuple(...[...word].map((char) => fc.constantFrom(char.toLowerCase(), char.toUpperCase()))).map((chars) => chars.join(''));

/** A docs/contract.md spelling with random case, random separator runs between words and random padding. */
export const spelled = fc.constantFrom(...SPELLINGS).chain(([words, status]) =>
  fc
    .tuple(padding, fc.tuple(...words.map(anyCase)), fc.array(separator, { minLength: words.length, maxLength: words.length }), padding)
    .map(([before, cased, separators, after]) => ({
      text: before + cased.map((word, index) => (index === 0 ? word : separators[index] + word)).join('') + after,
      status,
    })),
);

/** ASCII text made mostly of status-word pieces, separators and digits: near misses galore. */
export const nearMiss = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        'NEW',
        'new',
        'ASSIGN',
        'ED',
        'FIX',
        'CLOSE',
        'D',
        'RE',
        'OPEN',
        'REQUEST',
        'INFO',
        'RMATION',
        'PEND',
        'ING',
        'CANCEL',
        'L',
        'IN',
        'PROCESS',
        'ALL',
        'all',
      ),
      fc.constantFrom(' ', '_', '-', '  ', '\t', '.', '/', '0', '1', '8', '9', '+', 'é', 'ı'),
    ),
    { maxLength: 6 },
  )
  .map((pieces) => pieces.join(''));
