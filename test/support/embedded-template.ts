import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dumpMigratedEmbedded } from '../../src/db/database';
import { REPO_ROOT, TEST_SCRATCH_ROOT } from './scratch';

/**
 * The migrated, empty embedded database every in-memory test server starts from
 * (`AppOptions.testOnlyEmbeddedTemplate`): creating a PGlite cluster and migrating it was most of an
 * embedded server's start, repeated by every suite. Made once per schema and PGlite version (a
 * file under .test-tmp named by a hash of both, written atomically so parallel workers may race),
 * read once per suite. Each server still gets its own copy: nothing is shared between them.
 */
let template: Promise<Blob> | undefined;

export function embeddedTemplate(): Promise<Blob> {
  template ??= loadOrCreate();
  return template;
}

function schemaKey(): string {
  const hash = createHash('sha256');
  const migrations = path.join(REPO_ROOT, 'src', 'db', 'migrations');
  for (const file of readdirSync(migrations).sort()) hash.update(file).update(readFileSync(path.join(migrations, file)));
  const pglite = path.join(path.dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json');
  hash.update(readFileSync(pglite));
  return hash.digest('hex').slice(0, 16);
}

async function loadOrCreate(): Promise<Blob> {
  const file = path.join(TEST_SCRATCH_ROOT, `embedded-template-${schemaKey()}.tar`);
  if (existsSync(file)) return new Blob([readFileSync(file)]);
  const dump = await dumpMigratedEmbedded();
  mkdirSync(TEST_SCRATCH_ROOT, { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
  renameSync(partial, file);
  return dump;
}
