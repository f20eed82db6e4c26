import { stringifyResult, withNewline } from './json-body';

/** What Apollo's default `stringifyResult` (prettyJSONStringify) sends, as bytes. */
const apolloDefault = (value: unknown): Buffer => Buffer.from(`${JSON.stringify(value)}\n`, 'utf8');

describe('Apollo JSON bodies as one Buffer', () => {
  const values: Array<[string, unknown]> = [
    ['ASCII', { data: { tickets: [{ id: 'a', content: 'printer' }] } }],
    ['Chinese text', { data: { ticket: { content: '打印机坏了，请帮忙看看。' } } }],
    ['astral characters', { data: { content: 'emoji 🎫 and 𠀋' } }],
    ['a lone surrogate (escaped by JSON.stringify)', { data: { content: 'half \ud83c pair' } }],
    ['control characters and quotes', { data: { content: 'a\u0000b\n"c"\\' } }],
    ['errors', { errors: [{ message: 'Ticket 3 not found', extensions: { code: 'NOT_FOUND' } }] }],
    ['an empty object', {}],
    ['a large page', { data: { items: Array.from({ length: 5_000 }, (_, i) => ({ i, text: `第${i}条 reply` })) } }],
  ];

  it.each(values)('sends the bytes Apollo would for %s', (_name, value) => {
    for (const type of ['application/json; charset=utf-8', 'application/graphql-response+json; charset=utf-8']) {
      const body = withNewline(stringifyResult(value), type);
      expect(Buffer.isBuffer(body)).toBe(true);
      expect((body as Buffer).equals(apolloDefault(value))).toBe(true);
    }
  });

  it('passes what is not one of its JSON texts unchanged', () => {
    const html = '<!DOCTYPE html><html></html>';
    expect(withNewline(html, 'text/html; charset=utf-8')).toBe(html);
    expect(withNewline('{}', undefined)).toBe('{}');
    expect(withNewline('{}', ['application/json'])).toBe('{}');
    expect(withNewline('{}', 'application/jsonp')).toBe('{}');
    const reply = { sent: true };
    expect(withNewline(reply, 'application/json')).toBe(reply);
    expect(withNewline(undefined, 'application/json')).toBeUndefined();
  });
});
