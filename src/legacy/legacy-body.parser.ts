import { badInput } from '../shared/errors';

/**
 * The legacy endpoint's JSON reader. Clients were written by copying requests out of the seed
 * document, and the document is sloppy: single-quoted strings, trailing commas, `//` comments,
 * credentials broken over several lines *inside* the quotes, and members on separate lines with
 * the comma between them missing. json5 covers the first three but refuses the last two, so this
 * is a small recursive-descent reader for JSON plus exactly those slips:
 *
 * - strings in `"` or `'`; raw line breaks and tabs inside them are kept as they are (the
 *   credential decoder ignores whitespace; free text keeps what the client sent); JSON escapes
 *   plus `\'`, `\v`, `\0`, a backslash-newline line continuation, and any other escaped
 *   character standing for itself (JSON5's rule);
 * - `// …` and `/* … *\/` comments wherever whitespace may go;
 * - a trailing comma before `}` or `]`, or after the whole body;
 * - a missing comma between two members or elements *on different lines* (on one line it is
 *   still an error: that is a typo, not a copy-paste slip);
 * - object keys without quotes when they are identifiers (`customer-id: 1`, as the seed's
 *   sample responses print them);
 * - numbers with a leading `+` or `.`, or a trailing `.`.
 *
 * Strict JSON goes through `JSON.parse` first (fast and native, it matters for bodies carrying
 * megabytes of base64); only text it refuses is read by the tolerant parser, which gives the same
 * result on everything JSON.parse accepts (property-tested).
 */

/** A body the tolerant reader cannot make sense of; line and column are 1-based. */
export class LegacyJsonSyntaxError extends Error {
  override name = 'LegacyJsonSyntaxError';

  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${reason} at line ${line}, column ${column}`);
  }
}

/** Deepest nesting of objects and arrays the tolerant reader follows (no legacy body nests past 3). */
export const MAX_LEGACY_JSON_DEPTH = 64;

/**
 * Parses a legacy body: strict JSON, or JSON with the seed document's slips (see the module
 * comment). Returns any JSON value; callers check that it is an object.
 *
 * @throws LegacyJsonSyntaxError with the position of the first thing it cannot read.
 */
export function parseLegacyJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return new TolerantJsonReader(text).document();
  }
}

/**
 * The tolerant reader alone, without trying `JSON.parse` first: what {@link parseLegacyJson}
 * falls back to (the benchmark and the tests measure it on its own).
 */
export function parseTolerantJson(text: string): unknown {
  return new TolerantJsonReader(text).document();
}

/**
 * The route's body parser: text in, a JSON value out, or BAD_INPUT naming `body` with the
 * position of the problem (never a 500 for malformed input).
 */
export function parseLegacyBody(text: string): unknown {
  if (text.trim().length === 0) throw badInput('body', 'The request body is empty: send a JSON object with an "action"');
  try {
    return parseLegacyJson(text);
  } catch (error) {
    if (error instanceof LegacyJsonSyntaxError) throw badInput('body', `Malformed JSON body: ${error.message}`);
    throw error;
  }
}

const Char = {
  TAB: 0x09,
  LF: 0x0a,
  VT: 0x0b,
  FF: 0x0c,
  CR: 0x0d,
  SPACE: 0x20,
  DOUBLE_QUOTE: 0x22,
  SINGLE_QUOTE: 0x27,
  PLUS: 0x2b,
  COMMA: 0x2c,
  MINUS: 0x2d,
  DOT: 0x2e,
  SLASH: 0x2f,
  DIGIT_0: 0x30,
  DIGIT_9: 0x39,
  COLON: 0x3a,
  OPEN_BRACKET: 0x5b,
  CLOSE_BRACKET: 0x5d,
  OPEN_BRACE: 0x7b,
  CLOSE_BRACE: 0x7d,
  STAR: 0x2a,
  BACKSLASH: 0x5c,
  BOM: 0xfeff,
  LINE_SEPARATOR: 0x2028,
  PARAGRAPH_SEPARATOR: 0x2029,
} as const;

const isLineBreak = (code: number): boolean => code === Char.LF || code === Char.CR || code === Char.LINE_SEPARATOR || code === Char.PARAGRAPH_SEPARATOR;

const UNICODE_SPACE = /\s/;

function isWhitespace(code: number): boolean {
  if (code === Char.SPACE || code === Char.TAB || code === Char.LF || code === Char.CR) return true;
  if (code === Char.VT || code === Char.FF || code === Char.BOM) return true;
  // Non-breaking and full-width spaces turn up in text copied out of a word-processed document.
  return code > 0x7f && UNICODE_SPACE.test(String.fromCharCode(code));
}

const IDENTIFIER_START = /[A-Za-z_$]/;
const IDENTIFIER = /[A-Za-z_$][A-Za-z0-9_$-]*/y;
const NUMBER = /[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;

/** `\u` starts four hexadecimal digits. */
const HEX_ESCAPE = -1;
/** A backslash before a line break: a line continuation, standing for nothing. */
const LINE_CONTINUATION = -2;

/**
 * What `\x` stands for, indexed by the code of an ASCII x: JSON's and JavaScript's one-letter
 * escapes, HEX_ESCAPE, LINE_CONTINUATION, or x itself (JSON5's rule: `\"`, `\\`, `\/`, …).
 * One lookup, whatever the escape.
 */
const ESCAPE = new Int32Array(0x80).map((_, code) => code);
for (const [letter, code] of [
  ['b', 0x08],
  ['f', Char.FF],
  ['n', Char.LF],
  ['r', Char.CR],
  ['t', Char.TAB],
  ['v', Char.VT],
  ['0', 0],
  ['u', HEX_ESCAPE],
  ['\n', LINE_CONTINUATION],
  ['\r', LINE_CONTINUATION],
] as const) {
  ESCAPE[letter.charCodeAt(0)] = code;
}

/** The value of one hexadecimal digit, or -1. */
function hexDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** The code unit written as four hexadecimal digits at `at`, or -1. */
function hex4(text: string, at: number): number {
  let value = 0;
  for (let index = at; index < at + 4; index++) {
    const digit = hexDigit(text.charCodeAt(index));
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

/**
 * The buffers a string with escapes is decoded into, one byte per character while the text is
 * Latin-1 and two once a wider character appears; one pair per body, reused for every string.
 */
class CodeUnits {
  private bytes = new Uint8Array(256);
  private wide = new Uint16Array(0);

  /** The one-byte buffer, with room for at least `capacity` characters. */
  narrow(capacity: number): Uint8Array {
    if (capacity > this.bytes.length) this.bytes = new Uint8Array(capacity);
    return this.bytes;
  }

  /** The two-byte buffer, holding the first `length` characters of `units`. */
  widen(units: Uint8Array, length: number): Uint16Array {
    if (this.wide.length < units.length) this.wide = new Uint16Array(units.length);
    this.wide.set(units.subarray(0, length));
    return this.wide;
  }

  /** A buffer of the same width, twice as large, holding the first `length` characters of `units`. */
  grow(units: Uint8Array | Uint16Array, length: number): Uint8Array | Uint16Array {
    const grown = units instanceof Uint8Array ? (this.bytes = new Uint8Array(units.length * 2 + 2)) : (this.wide = new Uint16Array(units.length * 2 + 2));
    grown.set(units.subarray(0, length));
    return grown;
  }

  /** The first `length` characters as a string; lone surrogates are kept, as JSON.parse keeps them. */
  decode(units: Uint8Array | Uint16Array, length: number): string {
    if (units instanceof Uint8Array) return Buffer.from(units.buffer, units.byteOffset, length).toString('latin1');
    // Node copies UTF-16LE bytes into a string as they are (no replacement of lone surrogates).
    if (LITTLE_ENDIAN) return Buffer.from(units.buffer, units.byteOffset, length * 2).toString('utf16le');
    const parts: string[] = [];
    for (let start = 0; start < length; start += CHUNK) {
      parts.push(String.fromCharCode.apply(null, units.subarray(start, Math.min(start + CHUNK, length)) as unknown as number[]));
    }
    return parts.join('');
  }
}

/** Whether a Uint16Array's bytes are UTF-16LE on this machine. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Code units per `String.fromCharCode` call: well under any engine's argument limit. */
const CHUNK = 8_192;

/** One pass over the text; `pos` only moves forward, so the work is linear in the body size. */
class TolerantJsonReader {
  private pos = 0;
  /** Decoded characters of the string being read, when it has escapes; reused for every string. */
  private readonly units = new CodeUnits();
  /** Next backslash, double quote and single quote found so far ({@link nextOf}); -2: not looked for yet. */
  private readonly found = [-2, -2, -2];

  constructor(private readonly text: string) {}

  document(): unknown {
    this.skipTrivia();
    if (this.pos >= this.text.length) throw this.fail('the body is empty');
    const value = this.value(0);
    this.skipTrivia();
    // A comma after the last brace comes with text copied out of a list of examples.
    if (this.text.charCodeAt(this.pos) === Char.COMMA) {
      this.pos += 1;
      this.skipTrivia();
    }
    if (this.pos < this.text.length) throw this.fail(`unexpected ${this.describeHere()} after the end of the JSON value`);
    return value;
  }

  private value(depth: number): unknown {
    const code = this.text.charCodeAt(this.pos);
    if (code === Char.OPEN_BRACE) return this.object(depth + 1);
    if (code === Char.OPEN_BRACKET) return this.array(depth + 1);
    if (code === Char.DOUBLE_QUOTE || code === Char.SINGLE_QUOTE) return this.string();
    if (code === Char.MINUS || code === Char.PLUS || code === Char.DOT || (code >= Char.DIGIT_0 && code <= Char.DIGIT_9)) {
      return this.number();
    }
    if (IDENTIFIER_START.test(this.text[this.pos] ?? '')) {
      const start = this.pos;
      const word = this.identifier();
      if (word === 'true') return true;
      if (word === 'false') return false;
      if (word === 'null') return null;
      this.pos = start;
      throw this.fail(`unexpected word "${abbreviate(word)}" (strings need quotes)`);
    }
    throw this.fail(`expected a value but found ${this.describeHere()}`);
  }

  private object(depth: number): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    this.members(depth, Char.CLOSE_BRACE, () => {
      const key = this.key();
      this.skipTrivia();
      if (this.text.charCodeAt(this.pos) !== Char.COLON) {
        throw this.fail(`expected ":" after the key "${abbreviate(key)}" but found ${this.describeHere()}`);
      }
      this.pos += 1;
      this.skipTrivia();
      if (this.pos >= this.text.length) throw this.fail(`the value of "${abbreviate(key)}" is missing`);
      // defineProperty, not assignment: a "__proto__" key becomes an own property as with JSON.parse.
      Object.defineProperty(result, key, { value: this.value(depth), enumerable: true, writable: true, configurable: true });
    });
    return result;
  }

  private array(depth: number): unknown[] {
    const result: unknown[] = [];
    this.members(depth, Char.CLOSE_BRACKET, () => result.push(this.value(depth)));
    return result;
  }

  /**
   * An object's members or an array's elements, from the opening brace or bracket at `pos` to its
   * `close`: `member` reads each one. They are separated by commas, or by a line break alone (the
   * seed's slip: `"operator": "scheduler"⏎ "status": "ALL"`); a comma may trail the last.
   */
  private members(depth: number, close: typeof Char.CLOSE_BRACE | typeof Char.CLOSE_BRACKET, member: () => void): void {
    if (depth > MAX_LEGACY_JSON_DEPTH) throw this.fail(`nesting deeper than ${MAX_LEGACY_JSON_DEPTH} levels`);
    const closing = close === Char.CLOSE_BRACE ? '}' : ']';
    const open = this.pos;
    this.pos += 1;
    let afterMember = false;
    for (;;) {
      const crossedLine = this.skipTrivia();
      if (this.pos >= this.text.length) throw this.failAt(open, `this ${close === Char.CLOSE_BRACE ? 'object' : 'array'} is never closed with "${closing}"`);
      const code = this.text.charCodeAt(this.pos);
      if (code === close) {
        this.pos += 1;
        return;
      }
      if (afterMember) {
        if (code === Char.COMMA) {
          this.pos += 1;
          afterMember = false;
          continue;
        }
        if (!crossedLine) throw this.fail(`expected "," or "${closing}" but found ${this.describeHere()}`);
      }
      member();
      afterMember = true;
    }
  }

  private key(): string {
    const code = this.text.charCodeAt(this.pos);
    if (code === Char.DOUBLE_QUOTE || code === Char.SINGLE_QUOTE) return this.string();
    if (IDENTIFIER_START.test(this.text[this.pos] ?? '')) return this.identifier();
    throw this.fail(`expected a key but found ${this.describeHere()}`);
  }

  private identifier(): string {
    IDENTIFIER.lastIndex = this.pos;
    const match = IDENTIFIER.exec(this.text);
    // Callers check IDENTIFIER_START first, so there is always a match.
    const word = match ? match[0] : '';
    this.pos += word.length;
    return word;
  }

  /**
   * A quoted string. Without escapes it is one slice of the body. With escapes, its characters
   * are decoded in one pass into one buffer of UTF-16 code units, turned into a string once at
   * the end: no string per escape, no concatenation, so time and memory stay linear whatever the
   * mix of escapes and text (test/security/legacy-body-linear.test.ts, `npm run bench:parse`).
   */
  private string(): string {
    const text = this.text;
    const open = this.pos;
    const quote = text.charCodeAt(open);
    const close = this.nextOf(quote, open + 1);
    if (close < 0) throw this.failAt(open, 'this string is never closed');
    const backslash = this.nextOf(Char.BACKSLASH, open + 1);
    if (backslash < 0 || backslash > close) {
      this.pos = close + 1;
      return text.slice(open + 1, close);
    }
    // Escapes only shorten text, so up to the first quote this is room enough; an escaped quote
    // may carry the string further, and the buffer grows then. Latin-1 text (ASCII included)
    // is decoded one byte per character; the first wider character widens the buffer.
    let units: Uint8Array | Uint16Array = this.units.narrow(close - open);
    let length = 0;
    let index = open + 1;
    const end = text.length;
    for (;;) {
      if (index >= end) throw this.failAt(open, 'this string is never closed');
      if (length + 1 >= units.length) units = this.units.grow(units, length);
      let code = text.charCodeAt(index);
      if (code === quote) break;
      index += 1;
      if (code === Char.BACKSLASH) {
        if (index >= end) throw this.failAt(index - 1, 'a backslash ends the body');
        const letter = text.charCodeAt(index);
        index += 1;
        const escaped = letter < 0x80 ? (ESCAPE[letter] as number) : isLineBreak(letter) ? LINE_CONTINUATION : letter;
        if (escaped >= 0) {
          code = escaped;
        } else if (escaped === HEX_ESCAPE) {
          code = hex4(text, index);
          if (code < 0) throw this.failAt(index - 2, 'expected four hexadecimal digits after "\\u"');
          index += 4;
        } else {
          // CR LF after the backslash is one line break.
          if (letter === Char.CR && text.charCodeAt(index) === Char.LF) index += 1;
          continue;
        }
      }
      if (code > 0xff && units instanceof Uint8Array) units = this.units.widen(units, length);
      units[length++] = code;
    }
    this.pos = index + 1;
    return this.units.decode(units, length);
  }

  /**
   * Index of the next `code` (a quote or the backslash) at or after `from`, -1 if none. Each is
   * remembered: `from` only grows, so the body is searched once per character sought, however
   * many strings it holds.
   */
  private nextOf(code: number, from: number): number {
    const slot = code === Char.BACKSLASH ? 0 : code === Char.DOUBLE_QUOTE ? 1 : 2;
    let next = this.found[slot] as number;
    if (next !== -1 && next < from) {
      next = this.text.indexOf(String.fromCharCode(code), from);
      this.found[slot] = next;
    }
    return next;
  }

  private number(): number {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (!match) throw this.fail(`expected a number but found ${this.describeHere()}`);
    const end = this.pos + match[0].length;
    // `12abc` is neither a number nor a word.
    if (/[A-Za-z0-9_$]/.test(this.text[end] ?? '')) {
      this.pos = end;
      throw this.fail(`unexpected ${this.describeHere()} in a number`);
    }
    this.pos = end;
    return Number(match[0]);
  }

  /** Skips whitespace and comments; true when a line break was among them. */
  private skipTrivia(): boolean {
    const text = this.text;
    let crossedLine = false;
    while (this.pos < text.length) {
      const code = text.charCodeAt(this.pos);
      if (isWhitespace(code)) {
        if (isLineBreak(code)) crossedLine = true;
        this.pos += 1;
      } else if (code === Char.SLASH && text.charCodeAt(this.pos + 1) === Char.SLASH) {
        this.pos += 2;
        while (this.pos < text.length && !isLineBreak(text.charCodeAt(this.pos))) this.pos += 1;
      } else if (code === Char.SLASH && text.charCodeAt(this.pos + 1) === Char.STAR) {
        const end = text.indexOf('*/', this.pos + 2);
        if (end < 0) throw this.fail('this comment is never closed with "*/"');
        if (/[\n\r\u2028\u2029]/.test(text.slice(this.pos, end))) crossedLine = true;
        this.pos = end + 2;
      } else {
        break;
      }
    }
    return crossedLine;
  }

  private describeHere(): string {
    if (this.pos >= this.text.length) return 'the end of the body';
    const char = String.fromCodePoint(this.text.codePointAt(this.pos) ?? 0);
    return JSON.stringify(char);
  }

  private fail(reason: string): LegacyJsonSyntaxError {
    return this.failAt(this.pos, reason);
  }

  private failAt(offset: number, reason: string): LegacyJsonSyntaxError {
    let line = 1;
    let lineStart = 0;
    const end = Math.min(offset, this.text.length);
    for (let index = 0; index < end; index++) {
      const code = this.text.charCodeAt(index);
      if (code === Char.LF || (code === Char.CR && this.text.charCodeAt(index + 1) !== Char.LF)) {
        line += 1;
        lineStart = index + 1;
      }
    }
    return new LegacyJsonSyntaxError(reason, line, end - lineStart + 1);
  }
}

const abbreviate = (text: string): string => (text.length > 40 ? `${text.slice(0, 40)}…` : text);
