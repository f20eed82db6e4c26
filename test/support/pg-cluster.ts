import { execFile, spawnSync } from 'node:child_process';
import { accessSync, appendFileSync, chownSync, constants, existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import type { AppConfig } from '../../src/config';
import { freePort } from './ports';
import { scratchDir, TEST_SCRATCH_ROOT } from './scratch';
import { startServer, type TestServer } from './server';

/**
 * A private PostgreSQL server for fault injection: its own data directory and port, so a test
 * can stop it (`pg_ctl stop -m fast` / `-m immediate`) and start it again without touching the
 * shared server on 5432 that other suites use.
 *
 * PostgreSQL refuses to run as root. When the tests run as root (CI does), the cluster's files
 * belong to the `postgres` system user and every `initdb` / `pg_ctl` runs as that user through
 * `runuser`; otherwise they run as the current user.
 */

export type StopMode = 'smart' | 'fast' | 'immediate';

export interface PgCluster {
  readonly port: number;
  readonly dataDir: string;
  /** Whether the server is running, as far as this handle knows. */
  readonly running: boolean;
  /** `postgres://postgres@127.0.0.1:<port>/<database>`. */
  url(database?: string): string;
  /** Starts the server and waits until it accepts connections. */
  start(): Promise<void>;
  /** `pg_ctl stop -m <mode>`: waits until the server is gone. */
  stop(mode?: StopMode): Promise<void>;
  /** Creates a database (on a running server) and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server (immediately) if running and removes its files. */
  destroy(): Promise<void>;
}

/** Where initdb, pg_ctl and postgres live: PG_BINDIR, else the newest /usr/lib/postgresql/N/bin, else PATH. */
export function findPostgresBinaries(): string | undefined {
  const candidates: string[] = [];
  if (process.env.PG_BINDIR) candidates.push(process.env.PG_BINDIR);
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const versions = readdirSync(debianRoot)
      .filter((name) => /^\d+(\.\d+)?$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((version) => path.join(debianRoot, version, 'bin')));
  }
  candidates.push(...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean));
  return candidates.find((dir) => ['initdb', 'pg_ctl', 'postgres'].every((tool) => isExecutable(path.join(dir, tool))));
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The system user the server runs as when we are root; undefined when we are not root. */
function serverUser(): { name: string; uid: number; gid: number; runuser: string } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const name = process.env.PG_CLUSTER_USER ?? 'postgres';
  const id = (flag: string) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  const runuser = ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser', '/bin/runuser'].find(isExecutable);
  if (!Number.isInteger(uid) || uid <= 0 || !runuser) return undefined;
  return { name, uid, gid, runuser };
}

/**
 * Why fault tests cannot run here, or undefined when they can: binaries missing, or running as
 * root without a `postgres` user and `runuser` to drop to.
 */
export function pgClusterUnavailableReason(): string | undefined {
  if (!findPostgresBinaries()) {
    return 'PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: set PG_BINDIR or install postgresql';
  }
  if (process.getuid?.() === 0) {
    const user = serverUser();
    if (!user) return 'running as root without a "postgres" system user and runuser: PostgreSQL refuses to run as root';
    // The cluster lives in the checkout (test/support/scratch.ts), which its user must reach.
    const root = path.dirname(TEST_SCRATCH_ROOT);
    if (spawnSync(user.runuser, ['-u', user.name, '--', 'test', '-x', root]).status !== 0) {
      return `the "${user.name}" user cannot reach ${root} (the cluster's files live in the checkout): make its directories traversable (chmod o+x)`;
    }
  }
  return undefined;
}

/** Every cluster this process started and has not destroyed: stopped on exit, whatever happens. */
const live = new Set<() => void>();
process.once('exit', () => {
  for (const stop of live) stop();
});

/**
 * Creates (initdb) and starts a private cluster on a free loopback port. Call `destroy()` when done.
 * Settings favour speed (no fsync: the operating system itself never crashes in these tests, only
 * processes do, and what a process wrote to a file survives it) and a small footprint.
 */
export async function startPgCluster(options: { settings?: Record<string, string | number> } = {}): Promise<PgCluster> {
  const reason = pgClusterUnavailableReason();
  if (reason) throw new Error(reason);
  const bindir = findPostgresBinaries()!;
  const user = serverUser();
  const dataDir = scratchDir('helpdesk-pg-');
  if (user) chownSync(dataDir, user.uid, user.gid);
  const port = await freePort();

  const run = (tool: string, args: string[], timeoutMs = 60_000): Promise<string> => {
    const file = path.join(bindir, tool);
    const [command, commandArgs] = user ? [user.runuser, ['-u', user.name, '--', file, ...args]] : [file, args];
    return new Promise((resolve, reject) => {
      execFile(command, commandArgs, { timeout: timeoutMs, cwd: dataDir, env: { ...process.env, LC_ALL: 'C' } }, (error, stdout, stderr) => {
        if (error) reject(new Error(`${tool} ${args.join(' ')} failed: ${error.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
  };

  await run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '--no-instructions', '-E', 'UTF8', '--locale=C']);
  const settings: Record<string, string | number> = {
    port,
    listen_addresses: "'127.0.0.1'",
    // Its own socket directory: nothing to collide with the system server's /var/run/postgresql.
    unix_socket_directories: `'${dataDir}'`,
    // Commits still wait for their WAL write (synchronous_commit stays on), so a stop with
    // `-m immediate` loses nothing that was acknowledged.
    fsync: 'off',
    max_connections: 60,
    shared_buffers: "'32MB'",
    ...options.settings,
  };
  // Appending keeps the file's owner (the server user).
  appendFileSync(
    path.join(dataDir, 'postgresql.conf'),
    `\n# test/support/pg-cluster.ts\n${Object.entries(settings)
      .map(([key, value]) => `${key} = ${value}`)
      .join('\n')}\n`,
  );

  let running = false;
  const logFile = path.join(dataDir, 'server.log');
  const stopNow = () => {
    // Synchronous: also used from the process 'exit' hook.
    const file = path.join(bindir, 'pg_ctl');
    const args = ['-D', dataDir, '-m', 'immediate', '-w', '-t', '30', 'stop'];
    if (user) spawnSync(user.runuser, ['-u', user.name, '--', file, ...args], { stdio: 'ignore' });
    else spawnSync(file, args, { stdio: 'ignore' });
  };

  const cluster: PgCluster = {
    port,
    dataDir,
    get running() {
      return running;
    },
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    async start() {
      await run('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start']);
      running = true;
      live.add(stopNow);
    },
    async stop(mode = 'fast') {
      await run('pg_ctl', ['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
      running = false;
      live.delete(stopNow);
    },
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`Not a plain database name: ${name}`);
      const client = new Client({ connectionString: cluster.url() });
      await client.connect();
      try {
        await client.query(`create database ${name}`);
      } finally {
        await client.end();
      }
      return cluster.url(name);
    },
    async destroy() {
      if (running) {
        await cluster.stop('immediate').catch(() => stopNow());
      }
      live.delete(stopNow);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await cluster.start();
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return cluster;
}

/**
 * The lifecycle of a suite whose server runs on a private cluster the suite stops, freezes and
 * starts: the cluster, then the server on it (with `config`), start before the suite's tests and
 * are handed to `onStart`; after them `release` lets go of what the suite holds (sockets, frozen
 * processes), the server closes and the cluster goes.
 */
export function serverOnPrivateCluster(
  config: Partial<AppConfig>,
  onStart: (server: TestServer, cluster: PgCluster) => void,
  release: () => void = () => undefined,
): void {
  let cluster: PgCluster | undefined;
  let server: TestServer | undefined;
  beforeAll(async () => {
    cluster = await startPgCluster();
    server = await startServer('postgres', { config: { ...config, databaseUrl: cluster.url() } });
    onStart(server, cluster);
  }, 120_000);
  afterAll(async () => {
    release();
    await server?.close();
    await cluster?.destroy();
  }, 60_000);
}
