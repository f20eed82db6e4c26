import { countStatements } from './sql-statements';

describe('countStatements', () => {
  it.each<[string, number]>([
    ['', 0],
    ['   ', 0],
    [';', 0],
    [' ; ;\n', 0],
    ['-- only a comment', 0],
    ['/* only */ ; -- comments', 0],
    ['select 1', 1],
    ['select 1;', 1],
    ['select 1;  -- trailing comment', 1],
    ['select 1; /* trailing */', 1],
    ['select 1; select 2', 2],
    ['select 1;select 2;', 2],
    ['create table a (x int); create index on a (x); insert into a values (1)', 3],
    // `;` inside a string constant, as MikroORM inlines escaped parameters
    ["select * from t where c = '; drop table tickets; --'", 1],
    ["insert into t (c) values ('a;b'), ('''; select 1; --')", 1],
    ["select 'it''s; fine'", 1],
    ["select 'x'; select 'y;z'", 2],
    // E'…' (pg's escapeLiteral for text with backslashes): \' does not end the constant
    ["select  E'a\\\\b; \\'; c'", 1],
    ["select e'\\''';'", 1],
    ["select e'\\'';'", 2],
    ["select E'x'; select 1", 2],
    // a standard string ending in a backslash: the backslash escapes nothing
    ["select 'a\\'; select 1", 2],
    // a `e` that ends an identifier is not an E prefix
    ["select some_e'\\'; select 1", 2],
    // quoted identifiers
    ['select 1 as "a;b"', 1],
    ['select 1 as "a"";b"; select 2', 2],
    // comments
    ['select 1 -- ; not a statement\n', 1],
    ['select 1 /* ; */ + 1', 1],
    ['select 1 /* nested /* ; */ still ; comment */ + 1', 1],
    ['select 1 /* a */; select 2', 2],
    ["select 1 -- it's\n; select 2", 2],
    ['select 1 - -1; select 2', 2],
    // dollar quoting, as in function bodies
    ['create function f() returns int as $$ select 1; select 2 $$ language sql', 1],
    ['do $body$ begin perform 1; end $body$; select 1', 2],
    ['select $a$ $$; $a$', 1],
    // positional parameters and identifiers holding `$` are not dollar quotes
    ['select $1; select $2', 2],
    ['select a$b$ from t; select 1', 2],
    // unterminated constructs run to the end, as the server would reject them anyway
    ["select '; select 1", 1],
    ['select $$; select 1', 1],
    ['select 1 /* ; select 2', 1],
    // non-ASCII text
    ["select '打印机; 坏了' ; select 'é'", 2],
  ])('%j holds %i statement(s)', (sql, expected) => {
    expect(countStatements(sql)).toBe(expected);
  });
});
