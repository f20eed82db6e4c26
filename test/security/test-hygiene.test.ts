import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, TEST_BUILD_ROOT, TEST_SCRATCH_ROOT, scratchDir } from '../support/scratch';
import { rmSync } from 'node:fs';

/**
 * Issue 9, "Test hygiene": the fault suites compiled the server into a folder under the system's
 * temp directory, named by the sources' hash, with a link to the node_modules of whichever clone
 * built it first; a second clone reused it and failed once the first was removed. Every test
 * artifact now lives inside the checkout, ignored by git, so two clones never share state.
 */

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

const inside = (dir: string, root: string) => !path.relative(root, dir).startsWith('..') && !path.isAbsolute(path.relative(root, dir));

describe('test artifacts stay inside the checkout', () => {
  it('builds and scratch directories are under the repository root and ignored by git', () => {
    expect(inside(TEST_BUILD_ROOT, REPO_ROOT)).toBe(true);
    expect(inside(TEST_SCRATCH_ROOT, REPO_ROOT)).toBe(true);
    const dir = scratchDir('hygiene-');
    try {
      expect(inside(dir, TEST_SCRATCH_ROOT)).toBe(true);
      // git check-ignore exits 0 when the path is ignored.
      for (const ignored of [path.join(TEST_BUILD_ROOT, 'x'), path.join(dir, 'x')]) {
        expect(() => execFileSync('git', ['check-ignore', '-q', ignored], { cwd: REPO_ROOT })).not.toThrow();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('no test or test helper writes under the system temp directory', () => {
    const offenders = [...filesUnder(path.join(REPO_ROOT, 'test')), ...filesUnder(path.join(REPO_ROOT, 'src')).filter((file) => file.endsWith('.test.ts'))]
      .filter((file) => file !== __filename)
      // Chromium's launch writes under TMPDIR: the board's helper points TMPDIR into .test-tmp/ for it.
      .filter((file) => path.relative(REPO_ROOT, file) !== path.join('test', 'board', 'browser.ts') || !/profileRoot/.test(readFileSync(file, 'utf8')))
      .filter((file) => /\btmpdir\s*\(|os\.tmpdir|['"`]\/tmp\b|TMPDIR/.test(readFileSync(file, 'utf8')))
      .map((file) => path.relative(REPO_ROOT, file));
    expect(offenders).toEqual([]);
  });

  it('the fault suites build into .test-build/ of this checkout', () => {
    const support = readFileSync(path.join(REPO_ROOT, 'test/support/faults.ts'), 'utf8');
    expect(support).toMatch(/path\.join\(TEST_BUILD_ROOT, `helpdesk-build-/);
    expect(support).toMatch(/symlinkSync\(path\.join\(ROOT, 'node_modules'\)/);
    expect(support).toMatch(/const ROOT = REPO_ROOT;/);
  });
});
