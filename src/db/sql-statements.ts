/**
 * How many statements a PostgreSQL text holds, counted the way the server's lexer would: a `;`
 * ends a statement only outside string constants ('…', E'…' with backslash escapes, $tag$…$tag$),
 * quoted identifiers ("…") and comments (-- …, nested /* … *\/). Statements holding nothing but
 * whitespace and comments are not counted.
 *
 * Why: MikroORM inlines escaped parameters into the statement text, and the PGlite knex dialect
 * decided "script or single statement" by splitting the raw text on every `;`, so user text
 * holding a `;` turned a query into a script whose results came back nested (see
 * src/db/pglite-driver.ts).
 */
export function countStatements(sql: string): number {
  let count = 0;
  let content = false; // the current statement holds something other than whitespace/comments
  let i = 0;
  const n = sql.length;
  const isIdentChar = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i + 2);
      i = end < 0 ? n : end + 1;
      continue;
    }
    if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
      continue;
    }
    if (c === ';') {
      if (content) count++;
      content = false;
      i++;
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    content = true;
    if (c === "'" || c === '"') {
      // E'…' (or e'…') allows backslash escapes; the prefix must not be the tail of an identifier.
      const escapes = c === "'" && (sql[i - 1] === 'E' || sql[i - 1] === 'e') && !isIdentChar(sql[i - 2]);
      i = afterQuoted(sql, i, escapes);
      continue;
    }
    if (c === '$' && !isIdentChar(sql[i - 1])) {
      // $$…$$ or $tag$…$tag$ (a tag starts with a letter or `_`); `$1` is a parameter.
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        i = end < 0 ? n : end + tag[0].length;
        continue;
      }
    }
    i++;
  }
  if (content) count++;
  return count;
}

/**
 * The index just past the string constant ('…') or quoted identifier ("…") opening at `start`:
 * the quote character doubled stands for itself, and with `escapes` (E'…') a backslash escapes
 * the next character. An unterminated one runs to the end.
 */
function afterQuoted(sql: string, start: number, escapes: boolean): number {
  const quote = sql[start];
  let i = start + 1;
  while (i < sql.length) {
    if (escapes && sql[i] === '\\') {
      i += 2;
    } else if (sql[i] !== quote) {
      i++;
    } else if (sql[i + 1] === quote) {
      i += 2;
    } else {
      return i + 1;
    }
  }
  return i + 1;
}
