import fc from 'fast-check';
import { SEED_REQUESTS } from '../../test/support/seed-requests';
import { DomainError, ErrorCode } from '../shared/errors';
import { LegacyJsonSyntaxError, MAX_LEGACY_JSON_DEPTH, parseLegacyBody, parseLegacyJson, parseTolerantJson } from './legacy-body.parser';

/** The syntax error `parseLegacyJson` throws for `text` (fails the test when it parses). */
function syntaxError(text: string): LegacyJsonSyntaxError {
  try {
    parseLegacyJson(text);
  } catch (error) {
    if (error instanceof LegacyJsonSyntaxError) return error;
    throw error;
  }
  throw new Error(`expected a syntax error for ${JSON.stringify(text)}`);
}

describe('parseLegacyJson', () => {
  describe('the seed document', () => {
    // The "binary file" placeholders of create-ticket are not JSON in any dialect; a real client
    // puts base64 there, which the conformance suite does.
    const parseable = Object.entries(SEED_REQUESTS).filter(([name]) => name !== 'createTicket');

    it.each(parseable)('reads the %s example verbatim', (_name, text) => {
      const body = parseLegacyJson(text) as Record<string, unknown>;
      expect(typeof body.action).toBe('string');
      // The credential is broken over lines inside its quotes: the raw line breaks are kept and
      // the credential decoder drops them.
      expect(String(body.credential).replace(/\s+/g, '')).toMatch(/^7b22757365726e616d65223a22[0-9a-f]+7d$/);
    });

    it('reads the scheduler-list example: missing comma and a // comment', () => {
      expect(parseLegacyJson(SEED_REQUESTS.schedulerList)).toMatchObject({ action: 'scheduler-list', operator: 'scheduler', status: 'ALL' });
    });

    it('reads the staff list example: single quotes, missing comma, numeric status', () => {
      expect(parseLegacyJson(SEED_REQUESTS.listAsStaff)).toMatchObject({ action: 'list', operator: 'staff', status: 0 });
    });

    it('reads the reply examples: nested object and single-quoted reply-uuid', () => {
      expect(parseLegacyJson(SEED_REQUESTS.replyCreate)).toMatchObject({ uuid: '123456', reply: { userid: 1234567, content: 'abcdef' } });
      expect(parseLegacyJson(SEED_REQUESTS.replyDelete)).toMatchObject({ 'reply-uuid': '1234567' });
    });

    it('reads the edit example: single-quoted array elements and a trailing comma', () => {
      expect(parseLegacyJson(SEED_REQUESTS.editTicket)).toMatchObject({ images: ['http://img.png', 'http://img.png'] });
    });

    it('refuses the create example placeholder with a position', () => {
      const error = syntaxError(SEED_REQUESTS.createTicket);
      expect(error.line).toBe(9);
      expect(error.message).toContain('expected a value');
    });
  });

  describe('the tolerated slips', () => {
    it.each([
      ['single-quoted strings', `{'a': 'b "c"'}`, { a: 'b "c"' }],
      ['trailing commas', '{"a": [1, 2,], "b": {"c": 3,},}', { a: [1, 2], b: { c: 3 } }],
      ['line comments', '{"a": 1 // one\n, "b": 2 // two\n}', { a: 1, b: 2 }],
      ['block comments', '{/* x */"a"/* y */: /* z */1}', { a: 1 }],
      ['a missing comma between lines', '{"a": 1\n"b": 2}', { a: 1, b: 2 }],
      ['a missing comma across a comment line', '{"a": 1 // c\n "b": 2}', { a: 1, b: 2 }],
      ['a missing comma across a multi-line block comment', '{"a": 1 /* \n */ "b": 2}', { a: 1, b: 2 }],
      ['a missing comma in an array', '[1\n2\n3]', [1, 2, 3]],
      ['CRLF line ends', '{"a": 1\r\n"b": 2}', { a: 1, b: 2 }],
      ['raw line breaks inside strings', '{"c": "ab\n    cd"}', { c: 'ab\n    cd' }],
      ['raw tabs inside strings', '{"c": "a\tb"}', { c: 'a\tb' }],
      ['escaped single quotes', String.raw`{'a': 'it\'s'}`, { a: "it's" }],
      ['line continuations', '{"a": "ab\\\ncd"}', { a: 'abcd' }],
      ['unknown escapes as themselves', String.raw`{"a": "\q\/"}`, { a: 'q/' }],
      ['unquoted identifier keys', '{customer-id :123456, $x_1: 2}', { 'customer-id': 123456, $x_1: 2 }],
      ['a leading plus and dots', '[+1, .5, 1., -.25]', [1, 0.5, 1, -0.25]],
      ['a comma after the whole body', '{"a": 1},\n', { a: 1 }],
      ['a byte order mark', '\ufeff{"a": 1}', { a: 1 }],
      ['full-width and non-breaking spaces', '{\u3000"a":\u00a01}', { a: 1 }],
      ['unicode escapes', String.raw`{'a': '\u4e2d\u6587'}`, { a: '中文' }],
    ])('accepts %s', (_name, text, expected) => {
      expect(parseLegacyJson(text)).toEqual(expected);
    });

    it('keeps "__proto__" an own property, as JSON.parse does', () => {
      const parsed = parseLegacyJson(`{'__proto__': {'polluted': 1}}`) as Record<string, unknown>;
      expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
      expect(Object.prototype.hasOwnProperty.call(parsed, '__proto__')).toBe(true);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('lets the last of duplicate keys win, as JSON.parse does', () => {
      expect(parseLegacyJson(`{'a': 1, 'a': 2}`)).toEqual({ a: 2 });
    });
  });

  describe('what it still refuses, and where', () => {
    it.each([
      ['a missing comma on one line', '{"a": 1 "b": 2}', 1, 9, 'expected "," or "}"'],
      ['a missing comma in an array on one line', '[1 2]', 1, 4, 'expected "," or "]"'],
      ['an unclosed object', '{"a": 1', 1, 1, 'never closed'],
      ['an unclosed array', '{"a": [1,\n2', 1, 7, 'never closed'],
      ['an unclosed string', '{"a": "abc}', 1, 7, 'never closed'],
      ['an unclosed comment', '{"a": 1 /* x }', 1, 9, 'never closed'],
      ['a bare word', '{"a": staff}', 1, 7, 'strings need quotes'],
      ['a missing colon', '{"a" 1}', 1, 6, 'expected ":"'],
      ['a missing value', '{"a": }', 1, 7, 'expected a value'],
      ['a double comma', '{"a": 1,, "b": 2}', 1, 9, 'expected a key'],
      ['a leading comma', '[, 1]', 1, 2, 'expected a value'],
      ['garbage after the value', '{"a": 1} x', 1, 10, 'after the end'],
      ['two commas after the value', '{"a": 1},,', 1, 10, 'after the end'],
      ['a word glued to a number', '[12abc]', 1, 4, 'in a number'],
      ['a bad unicode escape', String.raw`["\u12"]`, 1, 3, 'four hexadecimal digits'],
      ['a lone key', '{"a"\n}', 2, 1, 'expected ":"'],
      ['only a comment', '// nothing', 1, 11, 'empty'],
    ])('refuses %s', (_name, text, line, column, reason) => {
      const error = syntaxError(text);
      expect(error).toMatchObject({ line, column });
      expect(error.reason).toContain(reason);
    });

    it('refuses nesting beyond the limit instead of overflowing the stack', () => {
      // Single quotes, so the tolerant reader (not JSON.parse) reads them.
      const deep = `${'['.repeat(MAX_LEGACY_JSON_DEPTH + 1)}'1'${']'.repeat(MAX_LEGACY_JSON_DEPTH + 1)}`;
      expect(syntaxError(deep).reason).toContain('nesting deeper');
      const fine = `${'['.repeat(MAX_LEGACY_JSON_DEPTH)}'1'${']'.repeat(MAX_LEGACY_JSON_DEPTH)}`;
      expect(() => parseLegacyJson(fine)).not.toThrow();
    });

    it('stays linear on a large lenient body', () => {
      const base64 = 'A'.repeat(20 * 1024 * 1024);
      const started = Date.now();
      const parsed = parseLegacyJson(`{'images': ['${base64}',],}`) as { images: string[] };
      expect(parsed.images[0]).toHaveLength(base64.length);
      expect(Date.now() - started).toBeLessThan(2000);
    });
  });

  describe('strings with escapes (decoded into one buffer)', () => {
    const tolerant = (literal: string): unknown => (parseTolerantJson(`[${literal}]`) as unknown[])[0];

    it.each([
      ['every simple escape', String.raw`"\b\f\n\r\t\v\0\"\\\/\'\q"`, '\b\f\n\r\t\v\0"\\/\'q'],
      ['a line continuation (LF, CRLF, CR, U+2028)', '"a\\\nb\\\r\ncd\\\re\\\u2028f"', 'abcdef'],
      ['Latin-1 then a wider character mid-string', String.raw`"caf\u00e9 \u4e2d\u6587 ok"`, 'café 中文 ok'],
      ['a wider raw character after an escape', '"\\n中"', '\n中'],
      ['lone surrogates, escaped and raw, kept as JSON.parse keeps them', '"\\ud800x\\udc00 \ud800"', '\ud800x\udc00 \ud800'],
      ['an escaped quote past the first quote (the buffer grows)', `'${'x'.repeat(300)}\\'${'y'.repeat(300)}\\'z'`, `${'x'.repeat(300)}'${'y'.repeat(300)}'z`],
      ['escapes only', `"${'\\"'.repeat(1000)}"`, '"'.repeat(1000)],
    ])('reads %s', (_name, literal, expected) => {
      expect(tolerant(literal)).toBe(expected);
    });

    it('agrees with JSON.parse on strings of any UTF-16 code units, lone surrogates included', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 20 }), (text, tail) => {
          const json = JSON.stringify(text + tail);
          expect(parseTolerantJson(json)).toBe(JSON.parse(json));
          // With \u escapes for every non-ASCII unit too (as some encoders write them).
          const ascii = json.replace(/[\u0080-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
          expect(parseTolerantJson(ascii)).toBe(JSON.parse(ascii));
        }),
      );
    });

    it('reads consecutive strings with and without escapes', () => {
      expect(parseTolerantJson(`{'a': 'x\\ny', 'b': "plain", 'c': '\\u00e9', d: '', e: 'q\\'q'}`)).toEqual({ a: 'x\ny', b: 'plain', c: 'é', d: '', e: "q'q" });
    });
  });

  describe('properties', () => {
    it('agrees with JSON.parse on every JSON text', () => {
      fc.assert(
        fc.property(fc.jsonValue(), fc.constantFrom(0, 2), (value, indent) => {
          const text = JSON.stringify(value, null, indent);
          expect(parseLegacyJson(text)).toEqual(JSON.parse(text));
        }),
      );
    });

    it('reads the seed dialect of any JSON value as that value', () => {
      fc.assert(
        fc.property(fc.jsonValue(), fc.integer({ min: 0, max: 2 ** 31 }), (value, seed) => {
          const text = sloppy(value, seed);
          expect(parseLegacyJson(text)).toEqual(JSON.parse(JSON.stringify(value)));
        }),
        { numRuns: 300 },
      );
    });

    it('never throws anything but a syntax error, whatever the text', () => {
      const alphabet = fc.constantFrom(...'{}[],:"\'/\\*\n\r\t abc-+.0123456789eEtrufalsn'.split(''));
      fc.assert(
        fc.property(fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 60 })), (text) => {
          try {
            parseLegacyJson(text);
          } catch (error) {
            expect(error).toBeInstanceOf(LegacyJsonSyntaxError);
            const { line, column } = error as LegacyJsonSyntaxError;
            expect(line).toBeGreaterThanOrEqual(1);
            expect(column).toBeGreaterThanOrEqual(1);
          }
        }),
        { numRuns: 2000 },
      );
    });
  });
});

describe('parseLegacyBody', () => {
  it.each(['', '   ', '\n'])('refuses an empty body %j with 400 naming body', (text) => {
    expect(() => parseLegacyBody(text)).toThrow(expect.objectContaining({ code: ErrorCode.BAD_INPUT, details: { field: 'body' } }));
  });

  it('turns a syntax error into 400 naming body and the position', () => {
    let caught: unknown;
    try {
      parseLegacyBody('{"action": "list",\n "status": }');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DomainError);
    expect(caught).toMatchObject({ code: ErrorCode.BAD_INPUT, details: { field: 'body' } });
    expect((caught as Error).message).toBe('Malformed JSON body: expected a value but found "}" at line 2, column 12');
  });
});

/**
 * Prints a JSON value the way the seed document's authors typed: randomly single-quoted strings,
 * trailing commas, comments, and commas left out where a line break follows. Deterministic in
 * `seed`, so a failing case shrinks and replays.
 */
function sloppy(value: unknown, seed: number): string {
  let state = seed >>> 0 || 1;
  const coin = (): boolean => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % 2 === 0;
  };
  const str = (text: string): string => {
    if (!coin()) return JSON.stringify(text);
    const inner = JSON.stringify(text).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'");
    return `'${inner}'`;
  };
  const gap = (): string => (coin() ? ' ' : coin() ? ' // note\n ' : ' /* note */ ');
  const separator = (): string => (coin() ? ',\n' : coin() ? '\n' : ', ');
  const print = (node: unknown): string => {
    if (typeof node === 'string') return str(node);
    if (Array.isArray(node)) {
      if (node.length === 0) return '[]';
      const items = node.map(print);
      return `[${gap()}${items.join(separator())}${coin() ? ',' : ''}]`;
    }
    if (node !== null && typeof node === 'object') {
      const entries = Object.entries(node);
      if (entries.length === 0) return '{}';
      const members = entries.map(([key, inner]) => `${str(key)}${gap()}:${gap()}${print(inner)}`);
      return `{${gap()}${members.join(separator())}${coin() ? ',' : ''}${gap()}}`;
    }
    return JSON.stringify(node);
  };
  return print(value);
}
