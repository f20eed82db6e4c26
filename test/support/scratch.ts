import { mkdirSync, mkdtempSync } from 'node:fs';
import path from 'node:path';

/**
 * Where tests keep what they write to disk: inside this checkout, ignored by git, never under the
 * system's temp folder. A build or database a test left under /tmp was found and reused by another
 * clone of the same sources, and broke it once the first clone was removed (its node_modules link
 * dangled). Everything here belongs to this checkout alone and goes with it.
 */
export const REPO_ROOT = path.resolve(__dirname, '../..');

/** Compiled servers of the fault suites (test/support/faults.ts). */
export const TEST_BUILD_ROOT = path.join(REPO_ROOT, '.test-build');

/** Scratch directories: data directories, private PostgreSQL clusters. */
export const TEST_SCRATCH_ROOT = path.join(REPO_ROOT, '.test-tmp');

/** A fresh, empty directory under {@link TEST_SCRATCH_ROOT}; the caller removes it. */
export function scratchDir(prefix: string): string {
  mkdirSync(TEST_SCRATCH_ROOT, { recursive: true });
  return mkdtempSync(path.join(TEST_SCRATCH_ROOT, prefix));
}
