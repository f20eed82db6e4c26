import { AbstractSqlDriver, PostgreSqlPlatform, type Configuration } from '@mikro-orm/postgresql';
import { PGliteConnection, PGliteKnexDialect } from 'mikro-orm-pglite';
import { countStatements } from './sql-statements';

type DialectQuery = PGliteKnexDialect['_query'];

/**
 * mikro-orm-pglite's dialect (knex-pglite `_query`) runs a raw text as a script (`pglite.exec`,
 * whose answer is one result per statement) whenever splitting it on `;` gives more than one
 * non-blank piece. MikroORM sends every statement as raw text with its parameters inlined, so a
 * `;` inside a string constant (a ticket's content, a search term) made a single statement a
 * "script": its answer came back as an array of results instead of rows. Here a text is a script
 * only when the PostgreSQL lexer would see several statements in it (countStatements); every
 * single statement goes through `pglite.query`, as on PostgreSQL.
 */
/** PGlite's query options for knex's `.options({ rowMode: 'array' })`; undefined otherwise. */
function rowModeOf(obj: object): { rowMode: 'array' } | undefined {
  // knex sets `options` on every query object; knex-pglite's type does not name it.
  return (obj as { options?: { rowMode?: unknown } }).options?.rowMode === 'array' ? { rowMode: 'array' } : undefined;
}

export class SafePGliteKnexDialect extends PGliteKnexDialect {
  override async _query(...[connection, obj]: Parameters<DialectQuery>): ReturnType<DialectQuery> {
    if (!obj.sql) throw new Error('The query is empty');
    if (obj.method === 'raw' && countStatements(obj.sql) > 1) obj.response = await connection.exec(obj.sql);
    // `rowMode: 'array'` (db/sql.ts `executePreparedArrays`) reaches PGlite as pg's does.
    else obj.response = await connection.query(obj.sql, obj.bindings ?? [], rowModeOf(obj));
    return obj;
  }
}

export class SafePGliteConnection extends PGliteConnection {
  override createKnex(): void {
    // The base class's wiring (mikro-orm-pglite 0.5.1), with the statement-aware dialect.
    this.client = this.createKnexClient(SafePGliteKnexDialect as never);
    const dialect = this.getKnex().client as { ormConfig: unknown; driver: unknown };
    dialect.ormConfig = this.config;
    dialect.driver = (this as unknown as { dialectDataSource: unknown }).dialectDataSource;
    this.connected = true;
  }
}

/** mikro-orm-pglite's PGliteDriver with {@link SafePGliteConnection}. */
export class SafePGliteDriver extends AbstractSqlDriver<SafePGliteConnection> {
  constructor(config: Configuration) {
    super(config, new PostgreSqlPlatform(), SafePGliteConnection, ['knex', '@electric-sql/pglite', '@harryplusplus/knex-pglite']);
  }
}
