import { createRequire } from 'node:module';

/**
 * `node dist-bench/bench/row-bench.js [pages]`: the pg driver's work per list page on the read
 * statement's rows (issue 15, docs/performance.md "Rows as arrays, 11 columns"), measured in one
 * process without database or network: pg's `Result.parseRow` (the per-row step that turns a
 * DataRow's column texts into a row, with pg-types' parsers) over rows shaped as the list page's
 * (51 tickets, 550 replies and history entries, 50 users), as objects and as arrays
 * (`rowMode: 'array'`), with the 15 columns the statement sent before and the 11 it sends now.
 * The DataRow decoding in pg-protocol (per column too) is not part of it. Each figure is the
 * median of 7 batches, the kinds alternating; wall time in one process, garbage collection included.
 */

interface PgResult {
  rows: unknown[];
  addFields(fields: Array<{ name: string; dataTypeID: number; format: string }>): void;
  parseRow(data: Array<string | null>): unknown;
  addRow(row: unknown): void;
}
const Result = createRequire(__filename)('pg/lib/result.js') as new (rowMode?: string) => PgResult;

const pages = Number(process.argv[2] ?? 1500);

/** PostgreSQL type oids of the statement's columns. */
const INT2 = 21;
const INT4 = 23;
const INT8 = 20;
const TEXT = 25;
const UUID = 2950;
const UUID_ARRAY = 2951;
const TEXT_ARRAY = 1009;
const FLOAT8 = 701;
const BOOL = 16;

const uuid = (i: number): string => `0193${String(i).padStart(4, '0')}-aaaa-7bbb-8ccc-0123456789ab`;
const ms = (i: number): string => String(1_764_312_345_123.456 + i * 1_000);
const content = '打印机坏了，请帮忙看看。The printer on the third floor is broken, please help. ';

/** The rows of one page, each column's text as the driver receives it (null for NULL). */
function rows(wide: boolean): Array<Array<string | null>> {
  const out: Array<Array<string | null>> = [];
  for (let t = 0; t < 51; t++) {
    out.push(
      wide
        ? ['0', String(t + 1), uuid(t), '2', content, '{}', '7', '3', '12', ms(t), ms(t + 1), null, null, null, null]
        : ['0', uuid(t), '2', content, '{}', '7', '3', '12', ms(t), ms(t + 1), null],
    );
  }
  for (let e = 0; e < 550; e++) {
    const reply = e % 2 === 0;
    const kind = reply ? '1' : '2';
    const status = reply ? null : '2';
    const text = reply ? content : null;
    out.push(
      wide
        ? [kind, null, uuid(1000 + e), status, text, null, String(e % 50), null, null, ms(e), null, uuid(e % 50), null, null, null]
        : [kind, uuid(1000 + e), status, text, null, String(e % 50), null, null, ms(e), null, uuid(e % 50)],
    );
  }
  for (let u = 0; u < 50; u++) {
    out.push(
      wide
        ? ['3', null, null, null, null, null, String(u), null, null, null, null, null, `bench-user-${u}`, '{STAFF}', null]
        : ['3', null, null, `bench-user-${u}`, '{STAFF}', String(u), null, null, null, null, null],
    );
  }
  return out;
}

type Fields = Array<[string, number]>;
const WIDE: Fields = [
  ['kind', INT4],
  ['ord', INT8],
  ['id', UUID],
  ['status', INT2],
  ['content', TEXT],
  ['image_ids', UUID_ARRAY],
  ['user_id', INT4],
  ['scheduler_id', INT4],
  ['staff_id', INT4],
  ['created_at', FLOAT8],
  ['updated_at', FLOAT8],
  ['ticket_id', UUID],
  ['username', TEXT],
  ['roles', TEXT_ARRAY],
  ['active', BOOL],
];
const NARROW: Fields = [
  ['kind', INT4],
  ['id', UUID],
  ['status', INT2],
  ['text', TEXT],
  ['list', TEXT_ARRAY],
  ['user_id', INT4],
  ['scheduler_id', INT4],
  ['staff_id', INT4],
  ['created_at', FLOAT8],
  ['updated_at', FLOAT8],
  ['ticket_id', UUID],
];

const cases: Record<string, { fields: Fields; data: Array<Array<string | null>>; rowMode?: string }> = {
  'objects, 15 columns (before)': { fields: WIDE, data: rows(true) },
  'arrays, 15 columns': { fields: WIDE, data: rows(true), rowMode: 'array' },
  'objects, 11 columns': { fields: NARROW, data: rows(false) },
  'arrays, 11 columns (now)': { fields: NARROW, data: rows(false), rowMode: 'array' },
};

function page({ fields, data, rowMode }: (typeof cases)[string]): number {
  const result = new Result(rowMode);
  result.addFields(fields.map(([name, dataTypeID]) => ({ name, dataTypeID, format: 'text' })));
  for (const row of data) result.addRow(result.parseRow(row));
  return result.rows.length;
}

const times = new Map<string, number[]>();
let kept = 0;
for (let batch = 0; batch < 7; batch++) {
  for (const [name, shape] of Object.entries(cases)) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < pages; i++) kept += page(shape);
    const perPage = Number(process.hrtime.bigint() - started) / 1e6 / pages;
    times.set(name, [...(times.get(name) ?? []), perPage]);
  }
}
for (const [name, values] of times) {
  values.sort((a, b) => a - b);
  console.log(`${name}: ${values[3]!.toFixed(3)} ms per page (${values[0]!.toFixed(3)}–${values[6]!.toFixed(3)})`);
}
console.log(`(${pages} pages per batch, ${kept / 7 / pages / Object.keys(cases).length} rows per page)`);
