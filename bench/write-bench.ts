import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { encodeCredential } from '../src/modules/auth/credential';
import { openDatabase } from '../src/db/database';
import { execute } from '../src/db/sql';
import { ServerProcess } from './ipc';
import { PostgresCpu } from './pg-cpu';
import autocannon from 'autocannon';
import type { LoadResult } from './load';
import { ADD_REPLY, graphqlBody, ME, REQUEST_INFORMATION, START_PROCESSING, statusesQuery } from './queries';
import { BENCH_PASSWORD, seedDatabase, type SeedResult } from './seed';

/**
 * `npm run bench:write`: the project's writes against the write bound (write-bound-server.ts:
 * one autocommit statement per write over node:http + pg), at 1, 10 and 50 concurrent writers on
 * distinct tickets, short runs, the bound and the project taking turns at every concurrency.
 *
 * - transition: one staff member's tickets flipped REQUEST_INFORMATION ⇄ IN_PROCESSING round
 *   robin (requestInformation / startProcessing), the same walk for the bound and for GraphQL;
 * - reply: addReply by one customer on their open tickets, round robin;
 * - transition-unordered: the bound without the event-order lock, to show what that lock costs;
 * - app-request: not a write, the smallest authenticated GraphQL request (`me { id }`, no
 *   statement), to tell the stack's own CPU per request from the write's.
 *
 * DATABASE_URL set: a fresh database on that server; else embedded PGlite. Each server runs
 * alone, started when its target's turn comes and stopped when another server's comes: a
 * product server left idle would still LISTEN, wake at every other server's NOTIFY and read the
 * event log, spending this machine's CPU (and PostgreSQL's) on another target's writes (and on
 * PGlite two processes cannot share the data directory). A fresh process warms up three times as
 * long, for its JIT.
 * Options: --writers 1,10,50  --duration 4  --warmup 1  --tickets 4000  --before DIR (a built
 * checkout of an earlier commit, measured in the same run: before and after)  --targets app-transition
 * (only these)  --cpu-prof DIR (V8 profiles of the servers). Prints req/s, p99, the
 * ratio to the bound, the CPU per write of the server process and of PostgreSQL's backends
 * serving the benchmark's database (pg-cpu.ts; PostgreSQL only), and the load average.
 */

const APP_SERVER = path.join(__dirname, 'app-server.js');
const BOUND_SERVER = path.join(__dirname, 'write-bound-server.js');
const log = (line = '') => process.stdout.write(`${line}\n`);

interface Options {
  writers: number[];
  duration: number;
  warmup: number;
  tickets: number;
  databaseUrl?: string;
  /** A built checkout of an earlier version (its dist-bench/bench/app-server.js), measured too: before and after in one run. */
  before?: string;
  /** Only targets whose name contains one of these. */
  targets: string[];
  /** V8 CPU profiles of the server processes go here. */
  cpuProf?: string;
}

function readOptions(argv: string[]): Options {
  const options: Options = { writers: [1, 10, 50], duration: 4, warmup: 1, tickets: 4000, databaseUrl: process.env.DATABASE_URL || undefined, targets: [] };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=');
    const value = inline ?? argv[++i] ?? '';
    const number = (min: number, max: number): number => {
      const parsed = Number(value);
      if (!Number.isFinite(parsed) || parsed < min || parsed > max) throw new Error(`${flag} must be a number from ${min} to ${max}`);
      return parsed;
    };
    if (flag === '--writers') {
      options.writers = value.split(',').map((part) => {
        const count = Number(part);
        if (!Number.isInteger(count) || count < 1 || count > 200) throw new Error('--writers takes counts from 1 to 200');
        return count;
      });
    } else if (flag === '--duration') options.duration = number(1, 60);
    else if (flag === '--warmup') options.warmup = number(0, 30);
    else if (flag === '--tickets') options.tickets = Math.floor(number(1000, 100_000));
    else if (flag === '--before') options.before = path.resolve(value);
    else if (flag === '--targets') options.targets = value.split(',').filter(Boolean);
    else if (flag === '--cpu-prof') options.cpuProf = path.resolve(value);
    else throw new Error(`unknown option ${flag}; see bench/write-bench.ts`);
  }
  return options;
}

type Operation = 'requestInformation' | 'startProcessing';

/**
 * Hands out tickets round robin, never one that a write still in flight holds: concurrent writers
 * always work on distinct tickets. (autocannon gives each request a fresh context, and the same
 * one to its response, so the ticket travels in it.)
 */
class Tickets {
  /** Every pool: a run's end leaves the writes it cut off busy, so each run starts with all free. */
  static readonly all: Tickets[] = [];
  private position = 0;
  private readonly busy = new Set<string>();

  constructor(readonly pool: readonly string[]) {
    Tickets.all.push(this);
  }

  static freeAll(): void {
    for (const tickets of Tickets.all) tickets.busy.clear();
  }

  take(): string {
    for (let tries = 0; tries < this.pool.length; tries++) {
      const id = this.pool[this.position++ % this.pool.length]!;
      if (!this.busy.has(id)) {
        this.busy.add(id);
        return id;
      }
    }
    throw new Error('every ticket of the pool is busy: more writers than tickets');
  }

  release(id: string): void {
    this.busy.delete(id);
  }
}

type Context = Record<string, unknown>;

type ServerKind = 'app' | 'bound' | 'before';

interface WriteTarget {
  readonly name: string;
  readonly server: ServerKind;
  readonly path: string;
  readonly headers: Record<string, string>;
  /** The next request's body; what it needs at its response goes into `context`. */
  body(context: Context): string;
  /** Its response arrived (`ok`: the write was applied). */
  done(context: Context, ok: boolean): void;
}

/** Like load.ts, but every connection is a writer with its own tickets (autocannon's per-connection context). */
async function loadWrites(url: string, target: WriteTarget, seconds: number, writers: number): Promise<LoadResult> {
  let firstFailure: string | undefined;
  Tickets.freeAll();
  const result = await autocannon({
    url,
    connections: writers,
    duration: seconds,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: target.path,
        headers: target.headers,
        setupRequest: (request, context) => ({ ...request, body: target.body(context) }),
        onResponse: (status, body, context) => target.done(context, status === 200 && body.startsWith('{"data":')),
      },
    ],
    verifyBody: (body) => {
      const success = body.startsWith('{"data":');
      if (!success) firstFailure ??= body.slice(0, 300);
      return success;
    },
  });
  const failedHttp = Object.entries(result.statusCodeStats)
    .filter(([status]) => !status.startsWith('2'))
    .reduce((sum, [, { count }]) => sum + count, 0);
  return {
    requests: result.requests.total,
    requestsPerSecond: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failed: Math.max(result.mismatches, failedHttp) + result.errors,
    firstFailure,
  };
}

/** Where each ticket goes next; shared by the bound and the product, so both walk legally. */
class TransitionWalk {
  private readonly next = new Map<string, Operation>();
  readonly tickets: Tickets;

  constructor(readonly pool: readonly string[]) {
    this.tickets = new Tickets(pool);
  }

  take(context: Context): { id: string; operation: Operation } {
    const id = this.tickets.take();
    const operation = this.next.get(id) ?? 'requestInformation';
    context.id = id;
    context.operation = operation;
    return { id, operation };
  }

  /**
   * The write's answer. Applied or refused, the ticket is now where that operation leads (a
   * refusal here means a write cut off at the end of the previous run landed after the walk was
   * read back), so the next operation is the other one.
   */
  done(context: Context, _ok: boolean): void {
    const id = context.id as string;
    this.next.set(id, context.operation === 'requestInformation' ? 'startProcessing' : 'requestInformation');
    this.tickets.release(id);
  }

  /** Before a run: where each ticket really is. */
  set(id: string, inRequestInformation: boolean): void {
    this.next.set(id, inRequestInformation ? 'startProcessing' : 'requestInformation');
  }
}

const JSON_HEADERS = { 'content-type': 'application/json' };

function targets(seed: SeedResult, key: Buffer, walk: TransitionWalk): Record<string, WriteTarget> {
  const staff = `Credential ${encodeCredential(seed.opsStaff.username, BENCH_PASSWORD, key)}`;
  const customer = `Credential ${encodeCredential(seed.opsCustomer.username, BENCH_PASSWORD, key)}`;
  const replyTickets = new Tickets(seed.replyPool);
  let replies = 0;
  const replyBody = (context: Context) => {
    const ticketId = replyTickets.take();
    context.id = ticketId;
    return { ticketId, content: `Benchmark reply ${replies++}: still happening after the update, see the attached log.` };
  };
  const replyDone = (context: Context) => replyTickets.release(context.id as string);
  const walkDone = (context: Context, ok: boolean) => walk.done(context, ok);
  const base = { headers: JSON_HEADERS } as const;
  return {
    'bound-transition': {
      ...base,
      name: 'bound-transition',
      server: 'bound',
      path: '/transition',
      body: (context) => JSON.stringify(walk.take(context)),
      done: walkDone,
    },
    'bound-transition-unordered': {
      ...base,
      name: 'bound-transition-unordered',
      server: 'bound',
      path: '/transition-unordered',
      body: (context) => JSON.stringify(walk.take(context)),
      done: walkDone,
    },
    'app-transition': {
      ...base,
      name: 'app-transition',
      server: 'app',
      path: '/graphql',
      headers: { ...JSON_HEADERS, authorization: staff },
      body: (context) => {
        const { id, operation } = walk.take(context);
        return graphqlBody(operation === 'requestInformation' ? REQUEST_INFORMATION : START_PROCESSING, { id });
      },
      done: walkDone,
    },
    // Not a write: the smallest authenticated GraphQL request (its viewer is cached, so no
    // statement), on the same server with the staff member's credential. Its CPU is what Fastify,
    // Apollo, authentication and graphql-jit cost any request before the work it asks for.
    'app-request': {
      ...base,
      name: 'app-request',
      server: 'app',
      path: '/graphql',
      headers: { ...JSON_HEADERS, authorization: staff },
      body: () => graphqlBody(ME),
      done: () => undefined,
    },
    'bound-reply': { ...base, name: 'bound-reply', server: 'bound', path: '/reply', body: (context) => JSON.stringify(replyBody(context)), done: replyDone },
    'app-reply': {
      ...base,
      name: 'app-reply',
      server: 'app',
      path: '/graphql',
      headers: { ...JSON_HEADERS, authorization: customer },
      body: (context) => graphqlBody(ADD_REPLY, replyBody(context)),
      done: replyDone,
    },
  };
}

/** Brings the walk in line with the database, through whichever server is up. */
async function syncWalk(walk: TransitionWalk, server: ServerProcess, kind: ServerKind, staffCredential: string): Promise<void> {
  for (let offset = 0; offset < walk.pool.length; offset += 20) {
    const ids = walk.pool.slice(offset, offset + 20);
    if (kind === 'bound') {
      const response = await fetch(`${server.url}/statuses`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ ids }) });
      const statuses = (await response.json()) as Record<string, string>;
      for (const [id, status] of Object.entries(statuses)) walk.set(id, status === 'REQUEST_INFORMATION');
    } else {
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { ...JSON_HEADERS, authorization: staffCredential },
        body: graphqlBody(statusesQuery(ids)),
      });
      const result = (await response.json()) as { data: Record<string, { id: string; status: string }> };
      for (const ticket of Object.values(result.data)) walk.set(ticket.id, ticket.status === 'REQUEST_INFORMATION');
    }
  }
}

/** One authenticated request with these headers, checked to succeed. */
async function signIn(server: ServerProcess, headers: Record<string, string>): Promise<void> {
  const response = await fetch(`${server.url}/graphql`, { method: 'POST', headers, body: graphqlBody(ME) });
  const body = await response.text();
  if (!body.startsWith('{"data":')) throw new Error(`signing in failed: ${body.slice(0, 200)}`);
}

interface Row {
  /** Which entry of `--writers` this step measured. */
  step: number;
  writers: number;
  target: string;
  result: LoadResult;
  cpuMsPerWrite: number;
  /** PostgreSQL backends' CPU per write (undefined on PGlite, whose CPU is the server's). */
  pgCpuMsPerWrite?: number;
  load1: number;
}

async function createEnvironment(
  options: Options,
): Promise<{ kind: string; dataDir: string; databaseUrl?: string; databaseName?: string; cleanup(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'helpdesk-write-bench-'));
  const removeDir = async () => rmSync(dataDir, { recursive: true, force: true });
  if (!options.databaseUrl) return { kind: 'embedded PGlite', dataDir, cleanup: removeDir };
  const name = `helpdesk_write_${randomBytes(5).toString('hex')}`;
  const admin = new Client({ connectionString: options.databaseUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(options.databaseUrl);
  url.pathname = `/${name}`;
  return {
    kind: `PostgreSQL, fresh database ${name}`,
    dataDir,
    databaseUrl: url.toString(),
    databaseName: name,
    async cleanup() {
      await removeDir();
      const client = new Client({ connectionString: options.databaseUrl });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

const running = new Set<ServerProcess>();

async function main(): Promise<void> {
  const options = readOptions(process.argv.slice(2));
  const environment = await createEnvironment(options);
  const stopAll = async () => {
    for (const server of running) server.kill();
    await environment.cleanup().catch(() => undefined);
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    log(`Write benchmark, ${new Date().toISOString()}, ${os.cpus().length} CPUs, Node ${process.version}, ${environment.kind}`);
    const database = await openDatabase({ databaseUrl: environment.databaseUrl, dataDir: environment.databaseUrl ? undefined : environment.dataDir });
    let seed: SeedResult;
    try {
      seed = await seedDatabase(database.orm.em.fork(), options.tickets);
      // Freshly bulk-loaded tables would draw autovacuum's analyze into the first measured steps
      // (its CPU counted as the writes'); do it now, before anything is measured.
      await execute(database.orm.em.fork(), 'vacuum analyze');
    } finally {
      await database.close();
    }
    log(`Seeded ${seed.counts.tickets} tickets; transition pool ${seed.transitionPool.length}, reply pool ${seed.replyPool.length}`);
    const key = randomBytes(32);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'production',
      DATA_DIR: environment.dataDir,
      CREDENTIAL_KEY: key.toString('hex'),
      PORT: '0',
      HOST: '127.0.0.1',
      ADMIN_PASSWORD: 'bench administrator password',
      LOG_LEVEL: 'silent',
      WRITE_STAFF_ID: String(seed.opsStaff.id),
      WRITE_CUSTOMER_ID: String(seed.opsCustomer.id),
    };
    if (environment.databaseUrl) env.DATABASE_URL = environment.databaseUrl;
    else delete env.DATABASE_URL;

    const walk = new TransitionWalk(seed.transitionPool);
    const all = targets(seed, key, walk);
    const staffCredential = `Credential ${encodeCredential(seed.opsStaff.username, BENCH_PASSWORD, key)}`;
    const servers: Partial<Record<ServerKind, ServerProcess>> = {};
    const scripts: Record<ServerKind, string> = {
      app: APP_SERVER,
      bound: BOUND_SERVER,
      before: path.join(options.before ?? '', 'dist-bench', 'bench', 'app-server.js'),
    };
    const up = async (kind: ServerKind): Promise<{ server: ServerProcess; fresh: boolean }> => {
      if (servers[kind]) return { server: servers[kind]!, fresh: false };
      for (const other of Object.keys(servers) as ServerKind[]) {
        await servers[other]!.stop();
        running.delete(servers[other]!);
        delete servers[other];
      }
      const execArgv = options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(options.cpuProf, kind)}`] : [];
      const server = await ServerProcess.start(scripts[kind], env, { execArgv });
      running.add(server);
      servers[kind] = server;
      return { server, fresh: true };
    };

    const pgCpu = options.databaseUrl && environment.databaseName ? await PostgresCpu.open(options.databaseUrl, environment.databaseName) : undefined;
    const rows: Row[] = [];
    if (options.before) {
      all['before-transition'] = { ...all['app-transition']!, name: 'before-transition', server: 'before' };
      all['before-reply'] = { ...all['app-reply']!, name: 'before-reply', server: 'before' };
    }
    const order = ['bound-transition', 'bound-transition-unordered', 'app-transition', 'app-request', 'bound-reply', 'app-reply'];
    if (options.before) {
      order.splice(4, 0, 'before-transition');
      order.push('before-reply');
    }
    for (const [step, writers] of options.writers.entries()) {
      if (walk.pool.length < 2 * writers) log(`Warning: ${walk.pool.length} tickets for ${writers} writers`);
      for (const name of order) {
        if (options.targets.length && !options.targets.some((part) => name.includes(part))) continue;
        const target = all[name]!;
        const { server, fresh } = await up(target.server);
        await syncWalk(walk, server, target.server, staffCredential);
        // The first request with a credential checks its password (scrypt at 128 MiB, seconds on
        // a loaded machine; cached afterwards): done here, so no warm-up or run measures it.
        if (target.server !== 'bound') await signIn(server, target.headers);
        if (options.warmup > 0) await loadWrites(server.url, target, options.warmup * (fresh ? 3 : 1), writers);
        // The writes the warm-up cut off still finish on the server: let them, then read the walk back.
        await new Promise((resolve) => setTimeout(resolve, 500));
        await syncWalk(walk, server, target.server, staffCredential);
        const before = await server.send({ type: 'sample', reset: true });
        const pgBefore = await pgCpu?.sample();
        const result = await loadWrites(server.url, target, options.duration, writers);
        const after = await server.send({ type: 'sample', reset: false });
        const pgAfter = await pgCpu?.sample();
        const perWrite = (ms: number) => ms / Math.max(1, result.requests);
        const cpuMsPerWrite = perWrite(((after.cpuMicros ?? 0) - (before.cpuMicros ?? 0)) / 1000);
        const pgCpuMsPerWrite = pgCpu?.available && pgBefore && pgAfter ? perWrite(PostgresCpu.elapsedMs(pgBefore, pgAfter)) : undefined;
        const load1 = os.loadavg()[0]!;
        rows.push({ step, writers, target: name, result, cpuMsPerWrite, pgCpuMsPerWrite, load1 });
        log(
          `${String(writers).padStart(3)} writers  ${name.padEnd(27)} ${result.requestsPerSecond.toFixed(0).padStart(6)} req/s  ` +
            `p99 ${String(result.p99).padStart(4)} ms  failed ${result.failed}  server CPU ${cpuMsPerWrite.toFixed(2)} ms/write  ` +
            `PG CPU ${pgCpuMsPerWrite === undefined ? '–' : pgCpuMsPerWrite.toFixed(2)} ms/write  load ${load1.toFixed(2)}` +
            (result.firstFailure ? `  first failure: ${result.firstFailure.slice(0, 160)}` : ''),
        );
      }
    }

    log('');
    log(
      '| writers | write | bound req/s | project req/s | ratio | bound p99 | project p99 | before req/s | before ratio | before p99 | unordered bound req/s | ' +
        'CPU ms/write, server + PG: bound | project | before | load avg |',
    );
    log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    // By step, not by count: `--writers 1,1` measures one writer twice.
    for (const [step, writers] of options.writers.entries()) {
      const at = (name: string) => rows.find((row) => row.step === step && row.target === name);
      for (const kind of ['transition', 'reply']) {
        const bound = at(`bound-${kind}`);
        const app = at(`app-${kind}`);
        if (!bound || !app) continue;
        const unordered = kind === 'transition' ? (at('bound-transition-unordered')?.result.requestsPerSecond.toFixed(0) ?? '–') : '';
        const before = at(`before-${kind}`);
        const beforeCells = before
          ? `${before.result.requestsPerSecond.toFixed(0)} | ${(before.result.requestsPerSecond / bound.result.requestsPerSecond).toFixed(2)} | ${before.result.p99} ms`
          : '– | – | –';
        const cpu = (row: Row | undefined) =>
          row ? `${row.cpuMsPerWrite.toFixed(1)} + ${row.pgCpuMsPerWrite === undefined ? '–' : row.pgCpuMsPerWrite.toFixed(1)}` : '–';
        log(
          `| ${writers} | ${kind} | ${bound.result.requestsPerSecond.toFixed(0)} | ${app.result.requestsPerSecond.toFixed(0)} | ` +
            `${(app.result.requestsPerSecond / bound.result.requestsPerSecond).toFixed(2)} | ${bound.result.p99} ms | ${app.result.p99} ms | ` +
            `${beforeCells} | ${unordered} | ${cpu(bound)} | ${cpu(app)} | ${cpu(before)} | ${bound.load1.toFixed(1)}–${app.load1.toFixed(1)} |`,
        );
      }
    }
    for (const [step, writers] of options.writers.entries()) {
      const request = rows.find((row) => row.step === step && row.target === 'app-request');
      const write = rows.find((row) => row.step === step && row.target === 'app-transition');
      if (!request) continue;
      log(
        `${writers} writers: the smallest GraphQL request (app-request, no statement) ${request.result.requestsPerSecond.toFixed(0)} req/s, ` +
          `server CPU ${request.cpuMsPerWrite.toFixed(2)} ms per request` +
          (write ? `; a transition ${write.cpuMsPerWrite.toFixed(2)} ms, so its own work ${(write.cpuMsPerWrite - request.cpuMsPerWrite).toFixed(2)} ms` : ''),
      );
    }
    for (const server of Object.values(servers)) await server!.stop();
    running.clear();
    await pgCpu?.close();
  } finally {
    await stopAll();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  for (const server of running) server.kill();
  process.exit(1);
});
