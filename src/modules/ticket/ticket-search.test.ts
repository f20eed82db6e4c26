import { DomainError } from '../../shared/errors';
import { containsPattern, isBigramTerm, MAX_SEARCH_LENGTH, parseSearch } from './ticket-search';

describe('parseSearch', () => {
  it.each([
    ['printer', ['printer']],
    ['  printer   fire ', ['printer', 'fire']],
    ['打印机', ['打印机']],
    ['打印', ['打印']],
    ['我的打印机\u3000坏了', ['我的打印机', '坏了']],
    ['fire fire', ['fire']],
    ['', []],
    ['   \t\n', []],
    ['😀😀', ['😀😀']],
    ['x'.repeat(MAX_SEARCH_LENGTH), ['x'.repeat(MAX_SEARCH_LENGTH)]],
  ])('%j → %j', (text, terms) => {
    expect(parseSearch(text)).toEqual(terms);
  });

  it.each([
    ['too long', 'x'.repeat(MAX_SEARCH_LENGTH + 1)],
    ['a one-character term', 'printer a'],
    ['one Chinese character', '打'],
    ['one emoji (two UTF-16 units, one character)', '😀'],
    ['nine terms', 'aa bb cc dd ee ff gg hh ii'],
    ['NUL', 'pri\u0000nter'],
  ])('%s is BAD_INPUT naming the field', (_, text) => {
    try {
      parseSearch(text, 'filter.search');
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).details.field).toBe('filter.search');
    }
  });
});

describe('containsPattern', () => {
  it.each([
    ['printer', '%printer%'],
    ['100%', '%100\\%%'],
    ['pass_word', '%pass\\_word%'],
    ['a\\b', '%a\\\\b%'],
    ['打印机', '%打印机%'],
  ])('%j → %j', (term, pattern) => {
    expect(containsPattern(term)).toBe(pattern);
  });
});

describe('isBigramTerm', () => {
  it.each([
    ['打印', true],
    ['打x', true],
    ['é1', true],
    ['\u{1F5A8}\uFE0F', true],
    ['fi', false],
    ['%_', false],
    ['打印机', false],
    ['\u{1F5A8}', false],
    ['printer', false],
  ])('%j → %j', (term, expected) => {
    expect(isBigramTerm(term)).toBe(expected);
  });
});
