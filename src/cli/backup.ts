import 'reflect-metadata';
import path from 'node:path';
import { dumpEmbedded, restoreEmbedded } from '../db/embedded-backup';

/**
 * Backup of the embedded database (the server stopped):
 *
 *   npm run backup -- dump FILE.sql      # DATA_DIR/pglite -> FILE.sql
 *   npm run backup -- restore FILE.sql   # FILE.sql -> a fresh DATA_DIR/pglite
 *
 * For PostgreSQL (DATABASE_URL) use pg_dump and pg_restore (docs/operations.md).
 */
async function main(): Promise<void> {
  const [command, file] = process.argv.slice(2);
  const dataDir = path.resolve(process.env.DATA_DIR || './data');
  if (process.env.DATABASE_URL) throw new Error('DATABASE_URL is set: back up a PostgreSQL server with pg_dump (docs/operations.md)');
  if (!file || (command !== 'dump' && command !== 'restore')) throw new Error('usage: npm run backup -- dump|restore FILE.sql');
  if (command === 'dump') {
    const bytes = await dumpEmbedded(dataDir, file);
    process.stdout.write(`Dumped ${path.join(dataDir, 'pglite')} to ${file} (${bytes} bytes)\n`);
  } else {
    await restoreEmbedded(dataDir, file);
    process.stdout.write(`Restored ${file} into ${path.join(dataDir, 'pglite')}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
