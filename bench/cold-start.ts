import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../test/support/ports';

/**
 * Cold start on the embedded database, as an operator sees it: from spawning `node dist/main.js`
 * to the first `GET /readyz` answered 200 (polled every 10 ms). With a fresh DATA_DIR the time
 * includes creating the PGlite cluster, migrating, generating the key and the administrator;
 * with an existing one, opening and checking them.
 */

export interface ColdStartResult {
  readonly kind: string;
  /** Milliseconds, one per run. */
  readonly runs: number[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the product once on `dataDir`, returns ms to ready, stops it with SIGTERM. */
export async function timeColdStart(mainScript: string, dataDir: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<number> {
  const port = await freePort();
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
  // The embedded database, whatever the benchmark itself runs on.
  delete childEnv.DATABASE_URL;
  const started = performance.now();
  const child = spawn(process.execPath, [mainScript], { env: childEnv, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  try {
    while (performance.now() - started < timeoutMs) {
      if (exitCode !== undefined) throw new Error(`dist/main.js exited with code ${exitCode} before it was ready`);
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (response) => response.status === 200,
        () => false,
      );
      if (ok) return performance.now() - started;
      await sleep(10);
    }
    throw new Error(`dist/main.js was not ready within ${timeoutMs} ms`);
  } finally {
    if (exitCode === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
  }
}

/**
 * `runs` cold starts with a fresh data directory each, then `runs` on the directory the first
 * one left (existing, empty), and `runs` on `seededDataDir` when given (existing, with the
 * benchmark's data set; its credential key comes from `seededEnv`).
 */
export async function measureColdStarts(mainScript: string, runs: number, seeded?: { dataDir: string; env: NodeJS.ProcessEnv }): Promise<ColdStartResult[]> {
  const scratch = mkdtempSync(path.join(tmpdir(), 'helpdesk-cold-'));
  try {
    const fresh: number[] = [];
    for (let i = 0; i < runs; i++) fresh.push(await timeColdStart(mainScript, path.join(scratch, `fresh-${i}`)));
    const existing: number[] = [];
    for (let i = 0; i < runs; i++) existing.push(await timeColdStart(mainScript, path.join(scratch, 'fresh-0')));
    const results: ColdStartResult[] = [
      { kind: 'fresh DATA_DIR (creates the database)', runs: fresh },
      { kind: 'existing DATA_DIR (empty)', runs: existing },
    ];
    if (seeded) {
      const withData: number[] = [];
      for (let i = 0; i < runs; i++) withData.push(await timeColdStart(mainScript, seeded.dataDir, seeded.env));
      results.push({ kind: 'existing DATA_DIR (benchmark data set)', runs: withData });
    }
    return results;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
