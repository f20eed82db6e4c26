import fc from 'fast-check';
import { SEED_REQUESTS } from '../../test/support/seed-requests';
import { DomainError, ErrorCode } from '../shared/errors';
import { MAX_LEGACY_JSON_DEPTH, parseLegacyBody } from './legacy-body.parser';

/**
 * Property tests of the route-level body reader, beyond legacy-body.parser.test.ts (which covers
 * agreement with JSON.parse and the seed dialect): real requests of the seed document, mangled
 * the ways text gets mangled in transit or by hand, always give a value or BAD_INPUT naming
 * `body` with a position inside the text, never another exception; nesting at any depth, through
 * the strict path or the tolerant one, never overflows the stack.
 */

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

function parse(text: string): Outcome {
  try {
    return { ok: true, value: parseLegacyBody(text) };
  } catch (error) {
    return { ok: false, error };
  }
}

/** A BAD_INPUT naming body whose "line L, column C" (when given) points inside `text`. */
function isBodyRefusal(error: unknown, text: string): boolean {
  if (!(error instanceof DomainError) || error.code !== ErrorCode.BAD_INPUT || error.details.field !== 'body') return false;
  const position = /at line (\d+), column (\d+)$/.exec(error.message);
  if (!position) return /empty/.test(error.message);
  const line = Number(position[1]);
  const column = Number(position[2]);
  const lines = text.split(/\r\n|\n|\r/);
  return line >= 1 && line <= lines.length && column >= 1 && column <= lines[line - 1].length + 1;
}

/** Characters that matter to the parser, and some that merely look like they might. */
const NASTY = [
  '{',
  '}',
  '[',
  ']',
  '"',
  "'",
  ',',
  ':',
  '\\',
  '/',
  '*',
  '\n',
  '\r',
  '\t',
  ' ',
  '\u2028',
  '\u00a0',
  '\ufeff',
  '\u0000',
  '0',
  '-',
  '+',
  '.',
  'e',
  't',
  'n',
  '\ud800',
  '😀',
];

type Edit = { at: number; kind: 'insert' | 'delete' | 'replace'; text: string };
const edit: fc.Arbitrary<Edit> = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom('insert' as const, 'delete' as const, 'replace' as const),
  text: fc.oneof(fc.constantFrom(...NASTY), fc.string({ maxLength: 4 })),
});

function apply(text: string, edits: readonly Edit[]): string {
  return edits.reduce((current, { at, kind, text: piece }) => {
    const index = current.length === 0 ? 0 : at % current.length;
    if (kind === 'insert') return current.slice(0, index) + piece + current.slice(index);
    if (kind === 'delete') return current.slice(0, index) + current.slice(index + 1 + (piece.length % 3));
    return current.slice(0, index) + piece + current.slice(index + 1);
  }, text);
}

const seedText = fc.constantFrom(...Object.values(SEED_REQUESTS));

describe('parseLegacyBody (properties)', () => {
  it('reads a mangled seed request as a value or refuses it as BAD_INPUT naming body and a position inside it', () => {
    fc.assert(
      fc.property(seedText, fc.array(edit, { minLength: 1, maxLength: 6 }), (text, edits) => {
        const mangled = apply(text, edits);
        const outcome = parse(mangled);
        return outcome.ok || isBodyRefusal(outcome.error, mangled);
      }),
      { numRuns: 5000 },
    );
  });

  it('reads a truncated seed request, or refuses it naming body', () => {
    fc.assert(
      fc.property(seedText, fc.nat(), (text, cut) => {
        const truncated = text.slice(0, cut % (text.length + 1));
        const outcome = parse(truncated);
        return outcome.ok || isBodyRefusal(outcome.error, truncated);
      }),
      { numRuns: 2000 },
    );
  });

  it('never overflows the stack on deep nesting, strict or tolerant', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50_000 }), fc.constantFrom('[', '{"a":'), fc.boolean(), fc.boolean(), (depth, open, tolerant, closed) => {
        const close = open === '[' ? ']' : '}';
        // A single-quoted string sends the text down the tolerant reader; a double-quoted one stays strict.
        const leaf = tolerant ? "'x'" : '"x"';
        const text = open.repeat(depth) + leaf + (closed ? close.repeat(depth) : '');
        const outcome = parse(text);
        if (outcome.ok) return closed && (!tolerant || depth <= MAX_LEGACY_JSON_DEPTH);
        return isBodyRefusal(outcome.error, text);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses any text that is not JSON of any dialect as BAD_INPUT naming body, never with another error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ unit: fc.constantFrom(...NASTY), maxLength: 80 })), (text) => {
        const outcome = parse(text);
        return outcome.ok || isBodyRefusal(outcome.error, text);
      }),
      { numRuns: 5000 },
    );
  });
});
