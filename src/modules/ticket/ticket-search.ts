import { badInput } from '../../shared/errors';

/** Longest `search` text accepted, in characters. */
export const MAX_SEARCH_LENGTH = 200;
/** Most whitespace-separated terms in one search. */
export const MAX_SEARCH_TERMS = 8;
/** Shortest term: one character matches nearly everything and no index can help it. */
export const MIN_TERM_LENGTH = 2;

/**
 * The terms of a `search`: split on whitespace, each matched as a case-insensitive substring of
 * the ticket's content or of one of its replies (not deleted), all of them required. Substrings
 * rather than words, because Chinese has no spaces between words: "打印机" must find
 * "我的打印机坏了". Returns [] for blank text (no search). BAD_INPUT naming `field` when the text
 * is too long, has too many terms, or a term is a single character.
 */
export function parseSearch(text: string, field = 'search'): string[] {
  if ([...text].length > MAX_SEARCH_LENGTH) throw badInput(field, `${field} must be at most ${MAX_SEARCH_LENGTH} characters`);
  if (text.includes('\u0000')) throw badInput(field, `${field} must not contain NUL characters`);
  const terms = text.split(/\s+/u).filter((term) => term.length > 0);
  if (terms.length > MAX_SEARCH_TERMS) throw badInput(field, `${field} may have at most ${MAX_SEARCH_TERMS} terms`);
  for (const term of terms) {
    if ([...term].length < MIN_TERM_LENGTH) {
      throw badInput(field, `every term of ${field} must have at least ${MIN_TERM_LENGTH} characters ("${term}" has one)`);
    }
  }
  // The same term twice adds nothing but work.
  return [...new Set(terms)];
}

/** A term as an ILIKE pattern matching it anywhere: its own `%`, `_` and `\` match literally. */
export const containsPattern = (term: string): string => `%${term.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;

/**
 * Whether a term is for the bigram indexes (migration 20261207000000): two characters, one of
 * them outside ASCII, like the Chinese word "打印". A trigram index cannot serve a term shorter
 * than three characters; the bigram indexes hold no all-ASCII pair, so "ab" is not for them.
 */
export const isBigramTerm = (term: string): boolean => {
  const chars = [...term];
  return chars.length === 2 && chars.some((char) => char.codePointAt(0)! > 0x7f);
};
