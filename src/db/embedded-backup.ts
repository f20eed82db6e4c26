import { PGlite } from '@electric-sql/pglite';
import { pgDump } from '@electric-sql/pglite-tools/pg_dump';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PGLITE_EXTENSIONS } from './pglite-extensions';

/**
 * Backup and restore of the embedded database (PGlite under `DATA_DIR/pglite`), as plain SQL
 * written by PGlite's own pg_dump (`@electric-sql/pglite-tools`, pg_dump compiled to WebAssembly).
 *
 * The server must be stopped: PGlite is one process per data directory, and two processes on one
 * directory corrupt it. The dump uses INSERT statements (`--inserts`), not COPY, so it restores
 * into PGlite (which cannot read COPY's inline data) and into a PostgreSQL server with `psql`
 * alike: the way to move an embedded installation to PostgreSQL.
 */

const pgliteDir = (dataDir: string): string => path.join(dataDir, 'pglite');

/** Writes a SQL dump of the embedded database in `dataDir` to `file`; resolves to its size in bytes. */
export async function dumpEmbedded(dataDir: string, file: string): Promise<number> {
  const dir = pgliteDir(dataDir);
  if (!existsSync(path.join(dir, 'PG_VERSION'))) throw new Error(`No embedded database in ${dir}`);
  const pg = new PGlite({ dataDir: dir, extensions: PGLITE_EXTENSIONS });
  try {
    await pg.waitReady;
    const dump = await pgDump({ pg, args: ['--inserts', '--no-owner', '--no-privileges'] });
    // PGlite's pg_dump is version 17, which sets a parameter servers before 17 do not know (and
    // whose value, 0, is their behaviour anyway): without the line the dump restores on 15 too.
    const sql = (await dump.text()).replace(/^SET transaction_timeout = 0;\n/m, '');
    writeFileSync(file, sql, { mode: 0o600 });
    return Buffer.byteLength(sql);
  } finally {
    await pg.close();
  }
}

/** Restores a dump into a new embedded database in `dataDir`, which must not hold one yet. */
export async function restoreEmbedded(dataDir: string, file: string): Promise<void> {
  const dir = pgliteDir(dataDir);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new Error(`${dir} is not empty: restore into a fresh DATA_DIR`);
  const sql = readFileSync(file, 'utf8');
  mkdirSync(dir, { recursive: true });
  const pg = new PGlite({ dataDir: dir, extensions: PGLITE_EXTENSIONS });
  try {
    await pg.waitReady;
    await pg.exec(sql);
  } finally {
    await pg.close();
  }
}
