import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { encodeCredential } from '../../src/modules/auth/credential';
import { gqlOk } from './http';
import { REPO_ROOT, TEST_BUILD_ROOT } from './scratch';
import { freePort } from './ports';
import { ADMIN, FIXTURE_USERS, PASSWORD, type FixtureName, type TestUser } from './server';

/**
 * Fault tests drive the product as an operator runs it: `node main.js` compiled by the build's
 * own tsconfig, in a child process the test can stop, signal and kill. Each build lives in a
 * directory named after the sources' hash under this checkout's `.test-build/` (git-ignored;
 * shared by the suites of one run, never racing an `npm run build` into dist/), with a
 * `node_modules` link to this checkout's own. Inside the checkout, not the system's temp folder:
 * a second clone must never find and reuse a build whose `node_modules` link points into the
 * first clone (it dangles once that clone is removed).
 */

const ROOT = REPO_ROOT;

export const sleep = (ms: number): Promise<unknown> => new Promise((resolve) => setTimeout(resolve, ms));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

let building: Promise<string> | undefined;

/** Builds of older sources (and abandoned half-builds) left by earlier runs: gone after an hour. */
function removeStaleBuilds(): void {
  const cutoff = Date.now() - 60 * 60 * 1000;
  if (!existsSync(TEST_BUILD_ROOT)) return;
  for (const name of readdirSync(TEST_BUILD_ROOT)) {
    if (!name.startsWith('helpdesk-build-')) continue;
    const dir = path.join(TEST_BUILD_ROOT, name);
    try {
      if (statSync(dir).mtimeMs < cutoff) rmSync(dir, { recursive: true, force: true });
    } catch {
      // Another run removed it first.
    }
  }
}

/** Compiles src/ with tsconfig.build.json (once per source state); resolves to its main.js. */
export function compiledServer(): Promise<string> {
  building ??= (async () => {
    const hash = createHash('sha256');
    for (const file of [...sourceFiles(path.join(ROOT, 'src')).sort(), path.join(ROOT, 'tsconfig.json'), path.join(ROOT, 'tsconfig.build.json')]) {
      hash.update(path.relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
    }
    const buildDir = path.join(TEST_BUILD_ROOT, `helpdesk-build-${hash.digest('hex').slice(0, 16)}`);
    const main = path.join(buildDir, 'main.js');
    if (existsSync(main)) return main;
    removeStaleBuilds();
    const staging = `${buildDir}.${process.pid}.${randomBytes(4).toString('hex')}`;
    mkdirSync(staging, { recursive: true });
    await new Promise<void>((resolve, reject) => {
      execFile(
        process.execPath,
        [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', staging, '--sourceMap', 'false'],
        { cwd: ROOT, timeout: 120_000 },
        (error, stdout, stderr) => {
          // Type errors still emit JavaScript; type checking is the typecheck step's job (and a
          // colleague's half-finished file elsewhere in src/ must not stop the fault suites).
          if (error && !existsSync(path.join(staging, 'main.js'))) reject(new Error(`Building the server failed:\n${stdout}${stderr}`));
          else resolve();
        },
      );
    });
    // Resolution walks up from main.js: give the build the repo's dependencies.
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(staging, 'node_modules'), 'dir');
    try {
      renameSync(staging, buildDir);
    } catch (error) {
      // Another worker finished the same build first: use theirs.
      rmSync(staging, { recursive: true, force: true });
      if (!existsSync(main)) throw error;
    }
    return main;
  })();
  return building;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One `node main.js` child process. */
export interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited. */
  readonly exited: Promise<Exit>;
  /** Whether it has exited (so far). */
  readonly exit: Exit | undefined;
  /** Everything it printed (stdout and stderr), for assertions and failure messages. */
  output(): string;
  /** Sends a signal; resolves when the process has exited or after `timeoutMs` (then kills it). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>;
}

export interface SpawnOptions {
  /** DATABASE_URL; omitted: the embedded database in `dataDir`. */
  databaseUrl?: string;
  dataDir: string;
  credentialKey: Buffer;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}

/**
 * Starts the compiled server on a free loopback port and resolves once `/readyz` answers 200.
 * FAULTS_LOG=1 copies its output to the test's stderr.
 */
export async function spawnServer(options: SpawnOptions): Promise<ServerProcess> {
  const main = await compiledServer();
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: options.dataDir,
    CREDENTIAL_KEY: options.credentialKey.toString('hex'),
    ADMIN_USERNAME: ADMIN.username,
    ADMIN_PASSWORD: ADMIN.password,
    // Cheap password hashes: these suites restart the server (empty caches) and sign in again.
    PASSWORD_SCRYPT_LOG2_N: '12',
    // These suites write as fast as they can through faults: request budgets (on by default in a
    // real start) would answer some of those writes 429. test/http/rate-limit.test.ts covers them.
    RATE_LIMIT_POINTS: '0',
    LOG_LEVEL: process.env.FAULTS_LOG ? 'info' : 'warn',
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    ...options.env,
  };
  const child = spawn(process.execPath, [main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: string[] = [];
  const collect = (chunk: Buffer) => {
    chunks.push(chunk.toString('utf8'));
    if (process.env.FAULTS_LOG) process.stderr.write(chunk.toString('utf8').replace(/^(?=.)/gm, `[server ${child.pid}] `));
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const server: ServerProcess = {
    url,
    child,
    exited,
    get exit() {
      return exit;
    },
    output: () => chunks.join(''),
    async stop(signal = 'SIGTERM', timeoutMs = 20_000) {
      if (exit) return exit;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (exit) throw new Error(`The server exited (${JSON.stringify(exit)}) before it was ready:\n${server.output()}`);
    const ready = await fetch(`${url}/readyz`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ready) return server;
    await sleep(25);
  }
  await server.stop('SIGKILL');
  throw new Error(`The server was not ready in time:\n${server.output()}`);
}

export type Cast = Record<FixtureName | 'admin', TestUser>;

/**
 * The fixture cast, created through the API as the bootstrap administrator (first start), or
 * only described (a restart on the same database: they exist already, and the key is the same).
 */
export async function provisionCast(url: string, key: Buffer, { create = true } = {}): Promise<Cast> {
  const admin: TestUser = { id: 0, username: ADMIN.username, roles: [], credential: encodeCredential(ADMIN.username, ADMIN.password, key) };
  const me = await gqlOk<{ me: { id: string } }>({ url }, admin, '{ me { id } }');
  const cast = { admin: { ...admin, id: Number(me.me.id) } } as Cast;
  for (const [name, roles] of Object.entries(FIXTURE_USERS) as Array<[FixtureName, TestUser['roles']]>) {
    const credential = encodeCredential(name, PASSWORD, key);
    if (create) {
      const data = await gqlOk<{ createUser: { id: string } }>({ url }, admin, 'mutation($input: CreateUserInput!) { createUser(input: $input) { id } }', {
        input: { username: name, password: PASSWORD, roles },
      });
      cast[name] = { id: Number(data.createUser.id), username: name, roles, credential };
    } else {
      const data = await gqlOk<{ me: { id: string } }>({ url }, { credential }, '{ me { id } }');
      cast[name] = { id: Number(data.me.id), username: name, roles, credential };
    }
  }
  return cast;
}

/** Polls until `check` resolves true or `timeoutMs` passes; resolves to the elapsed ms. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000, intervalMs = 25): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await check().catch(() => false)) return Date.now() - started;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** GET /readyz's status (0 when the request itself fails). */
export const readiness = (url: string): Promise<number> =>
  fetch(`${url}/readyz`).then(
    (response) => response.status,
    () => 0,
  );
