import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/**
 * A fresh database named `<prefix>_<random>` on the PostgreSQL server at `base` (a URL whose
 * user may create databases); returns its URL and a dropper. Test servers and the benchmarks
 * each start from an empty one.
 */
export async function createDatabaseOn(base: string, prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new Client({ connectionString: base });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}
