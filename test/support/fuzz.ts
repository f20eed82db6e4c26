import fc from 'fast-check';
import { encodeCredential } from '../../src/modules/auth/credential';
import type { TestServer, TestUser } from './server';

/**
 * Shared pieces of the hostile-input suites (fuzz-*.test.ts, authorization-matrix.test.ts): a
 * fingerprint of the whole database, so a refused request can be shown to have changed nothing;
 * the answers a hostile request may get; generators of nasty strings and credentials; and a
 * tally that prints the one-line summary the closing note quotes.
 */

// ---------------------------------------------------------------------------------------------
// Database fingerprint
// ---------------------------------------------------------------------------------------------

/** Per table: row count and a digest of every row's full text (images by the digest of their bytes). */
export type DatabaseFingerprint = Record<string, { rows: number; digest: string }>;

/**
 * Every base table of the application's schema (migration bookkeeping aside), row by row. Tables
 * added later (idempotency keys, ...) are included without anyone having to list them here.
 * Failed-login counters (`login_throttle`) are left out: a refused sign-in is meant to count.
 */
export async function fingerprint(server: Pick<TestServer, 'app'>): Promise<DatabaseFingerprint> {
  const connection = server.app.database.orm.em.getConnection();
  const tables: Array<{ name: string }> = await connection.execute(
    `select table_name as name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name not like 'mikro_orm%'
        and table_name <> 'login_throttle'
      order by table_name`,
    [],
    'all',
  );
  if (tables.length === 0) throw new Error('fingerprint: no tables found');
  // md5 per row first, so a 10 MiB image costs one digest rather than a 20 MiB sort key.
  const parts = tables.map(
    ({ name }) =>
      `select '${name}' as name, count(*)::int as rows, coalesce(md5(string_agg(h, ',' order by h)), '') as digest
         from (select md5(t::text) as h from "${name}" t) x`,
  );
  const rows: Array<{ name: string; rows: number; digest: string }> = await connection.execute(parts.join(' union all '), [], 'all');
  return Object.fromEntries(rows.map((row) => [row.name, { rows: Number(row.rows), digest: row.digest }]));
}

/**
 * The tables whose rows differ between two fingerprints, with their row counts
 * (`tickets 7 → 8 rows, users rows changed`), or undefined when nothing did: what a failure
 * message names, beside the request that made the change.
 */
export function fingerprintChange(before: DatabaseFingerprint, after: DatabaseFingerprint): string | undefined {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const changes = names.flatMap((name) => {
    const [was, now] = [before[name], after[name]];
    if (was?.rows === now?.rows && was?.digest === now?.digest) return [];
    return [was?.rows === now?.rows ? `${name} rows changed (${now?.rows})` : `${name} ${was?.rows ?? 'absent'} → ${now?.rows ?? 'absent'} rows`];
  });
  return changes.length ? changes.join(', ') : undefined;
}

// ---------------------------------------------------------------------------------------------
// What a hostile request may get back
// ---------------------------------------------------------------------------------------------

/** Traces of a stack or of the server's source in a body. */
const LEAK = /\n\s+at |\bat [\w.<>]+ \(|\.ts:\d+|node_modules|stacktrace/i;

/** Why an HTTP error answer is not the `{code, message}` docs/contract.md promises, or undefined when it is. */
export function badErrorBody(status: number, text: string): string | undefined {
  if (LEAK.test(text)) return `stack trace or source path in the body: ${text.slice(0, 300)}`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `body is not JSON: ${text.slice(0, 200)}`;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return `body is not an object: ${text.slice(0, 200)}`;
  const { code, message, ...rest } = body as Record<string, unknown>;
  if (code !== status) return `code ${String(code)} differs from status ${status}`;
  if (typeof message !== 'string' || message.length === 0) return 'message is not a non-empty string';
  if (Object.keys(rest).length) return `unexpected members ${Object.keys(rest).join(', ')}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Tally
// ---------------------------------------------------------------------------------------------

/** Counts inputs tried and answers by status, per surface, and prints one line per surface. */
export class FuzzTally {
  private readonly surfaces = new Map<string, { inputs: number; statuses: Map<string, number>; fivexx: number; failures: string[] }>();

  record(surface: string, status: number | string, failure?: string): void {
    let entry = this.surfaces.get(surface);
    if (!entry) {
      entry = { inputs: 0, statuses: new Map(), fivexx: 0, failures: [] };
      this.surfaces.set(surface, entry);
    }
    entry.inputs += 1;
    const key = String(status);
    entry.statuses.set(key, (entry.statuses.get(key) ?? 0) + 1);
    if (typeof status === 'number' && status >= 500) entry.fivexx += 1;
    if (failure && entry.failures.length < 20) entry.failures.push(failure);
  }

  inputs(surface: string): number {
    return this.surfaces.get(surface)?.inputs ?? 0;
  }

  fivexx(surface: string): number {
    return this.surfaces.get(surface)?.fivexx ?? 0;
  }

  failures(surface: string): string[] {
    return this.surfaces.get(surface)?.failures ?? [];
  }

  /** One line per surface: `fuzz <surface> (<db>): N inputs, M 5xx, answers {...}`. */
  summary(label: string): string {
    return [...this.surfaces.entries()]
      .map(([surface, entry]) => {
        const statuses = [...entry.statuses.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([status, count]) => `${status}:${count}`)
          .join(' ');
        return `fuzz ${surface} (${label}): ${entry.inputs} inputs, ${entry.fivexx} 5xx, answers ${statuses}`;
      })
      .join('\n');
  }
}

/** Runs `step` until `budget` runs or `ms` milliseconds are spent, whichever comes first. */
export function bounded(numRuns: number, ms: number): fc.Parameters<unknown> {
  return { numRuns, interruptAfterTimeLimit: ms, markInterruptAsFailure: false };
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/** Strings that have broken servers before: NUL, lone surrogates, huge, control, injection-looking. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.string({ maxLength: 40 }), weight: 4 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 60 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }), weight: 2 },
  {
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '\u0000',
      'a\u0000b',
      '\ud800',
      'x\udfffy',
      '\ufeffBOM',
      '\u202eevil',
      '😀'.repeat(3),
      'é\u0301',
      '\r\n\t',
      "'; drop table tickets; --",
      '<script>alert(1)</script>',
      '${7*7}{{7*7}}%s%n',
      '../../../etc/passwd',
      '__proto__',
      'null',
      'undefined',
      '-1',
      '1e309',
      'NaN',
    ),
    weight: 3,
  },
  // Around the 65,536-character limit (docs/contract.md "Limits"), counted in code points.
  { arbitrary: fc.constantFrom('x'.repeat(65_536), 'x'.repeat(65_537), '😀'.repeat(65_536), '😀'.repeat(65_537), 'ab'.repeat(70_000)), weight: 1 },
);

/** A JSON value of any type, nested a little, for fields that expect something else. */
export const junkJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(null, true, false, 0, -0, -1, 1.5, 1e308, -1e308, 2 ** 31, 2 ** 53 + 2, [], {}, [[]], { '': '' }, { __proto__: 1 }),
  nastyString,
);

/** A UUID that names nothing, in either case. */
export const randomUuid: fc.Arbitrary<string> = fc.tuple(fc.uuid({ version: [4, 7] }), fc.boolean()).map(([id, upper]) => (upper ? id.toUpperCase() : id));

/** An id-looking value that is not a UUID. */
export const notAUuid: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    '123456',
    '1234567',
    '',
    ' ',
    '0',
    'null',
    '00000000-0000-0000-0000-00000000000g',
    '{00000000-0000-0000-0000-000000000000}',
    '00000000000000000000000000000000',
  ),
  fc.uuid().map((id) => ` ${id}`),
  fc.uuid().map((id) => `${id}\u0000`),
  fc.uuid().map((id) => id.replace(/-/g, '')),
  fc.integer(),
  nastyString,
);

/**
 * How a credential is spelled on the wire. `unknown` credentials are well-formed and encrypted
 * under the right key for a username that does not exist: each costs a full scrypt and counts as
 * a failed login, so callers spend them from a budget (see {@link CredentialBudget}).
 */
export type CredentialChoice =
  | { kind: 'user'; name: keyof TestServer['users']; respell: 'as-is' | 'upper' | 'wrapped' }
  | { kind: 'unknown'; username: string }
  | { kind: 'junk'; value: unknown }
  | { kind: 'absent' };

export const credentialChoice = (names: ReadonlyArray<keyof TestServer['users']>): fc.Arbitrary<CredentialChoice> =>
  fc.oneof(
    {
      arbitrary: fc.record({
        kind: fc.constant('user' as const),
        name: fc.constantFrom(...names),
        respell: fc.constantFrom('as-is' as const, 'as-is' as const, 'as-is' as const, 'as-is' as const, 'upper' as const, 'wrapped' as const),
      }),
      weight: 16,
    },
    {
      arbitrary: fc.record({ kind: fc.constant('unknown' as const), username: fc.constantFrom('mallory', 'nobody', 'root', 'admin ', 'Customer') }),
      weight: 1,
    },
    {
      arbitrary: fc.record({
        kind: fc.constant('junk' as const),
        value: fc.oneof(
          junkJson,
          fc.stringMatching(/^[0-9a-f]{0,200}$/),
          fc.jsonValue({ maxDepth: 2 }).map((value) => Buffer.from(JSON.stringify(value), 'utf8').toString('hex')),
          fc
            .record({ username: fc.string(), password: fc.string(), nonce: fc.string(), authTag: fc.string() })
            .map((value) => Buffer.from(JSON.stringify(value), 'utf8').toString('hex')),
        ),
      }),
      weight: 2,
    },
    { arbitrary: fc.constant({ kind: 'absent' as const }), weight: 1 },
  );

/**
 * Failed logins per server are throttled per client address (docs/contract.md: 429), and credentials that
 * do not decode count as failures too: spend at most `limit` wrong or junk credentials, so the
 * fuzz does not lock its own loopback address out; past it, send none.
 */
export class CredentialBudget {
  private spent = 0;
  constructor(private readonly limit: number) {}

  /** The credential value to send (undefined: none, also once the budget is spent). */
  resolve(server: Pick<TestServer, 'users' | 'key'>, choice: CredentialChoice): unknown {
    switch (choice.kind) {
      case 'absent':
        return undefined;
      case 'junk':
        if (this.spent >= this.limit) return undefined;
        this.spent += 1;
        return choice.value;
      case 'unknown':
        if (this.spent >= this.limit) return undefined;
        this.spent += 1;
        return encodeCredential(choice.username, 'wrong password', server.key);
      case 'user': {
        const credential = server.users[choice.name].credential;
        if (choice.respell === 'upper') return credential.toUpperCase();
        if (choice.respell === 'wrapped') return (credential.match(/.{1,90}/g) ?? []).join('\n    ');
        return credential;
      }
    }
  }
}

/** The fixture user a choice acts as, if any (a respelled credential is still that user). */
export const actingUser = (server: Pick<TestServer, 'users'>, choice: CredentialChoice): TestUser | undefined =>
  choice.kind === 'user' ? server.users[choice.name] : undefined;
