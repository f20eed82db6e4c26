import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Client } from 'pg';
import { openDatabase } from '../src/db/database';
import { measureColdStarts, type ColdStartResult } from './cold-start';
import { ServerProcess } from './ipc';
import { load } from './load';
import { readOptions, type BenchOptions } from './options';
import { PostgresCpu } from './pg-cpu';
import { boundRatio, coldStartTable, median, resultsTable, targetList, totalCpu, type RoundResult, type TargetSummary } from './report';
import { seedDatabase, type SeedResult } from './seed';
import { buildTargets, send, type Target } from './targets';

/**
 * `npm run bench`: seeds a data set, then measures each target alone with autocannon from this
 * process while the server runs in another, warm-up first, in rounds where the SQL bound and the
 * product take turns going first. Prints one table; see docs/performance.md.
 */

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const MAIN_SCRIPT = path.join(REPO_ROOT, 'dist', 'main.js');
const APP_SERVER = path.join(__dirname, 'app-server.js');
const BOUND_SERVER = path.join(__dirname, 'bound-server.js');

const log = (line = '') => process.stdout.write(`${line}\n`);

/** Servers alive right now, killed on any way out. */
const running = new Set<ServerProcess>();
/** Removes the temporary database; also run when the benchmark is interrupted. */
let cleanupEnvironment: (() => Promise<void>) | undefined;

/** Kills the servers and removes the temporary database, within a few seconds at most. */
async function abandon(): Promise<void> {
  for (const server of running) server.kill();
  const cleanup = cleanupEnvironment;
  cleanupEnvironment = undefined;
  if (cleanup) await Promise.race([cleanup().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5_000))]);
}

interface Environment {
  readonly kind: 'embedded' | 'postgres';
  readonly databaseUrl?: string;
  /** PostgreSQL: the URL given (the server's database the benchmark's one was created beside) and the new database's name. */
  readonly adminUrl?: string;
  readonly databaseName?: string;
  readonly dataDir: string;
  readonly describe: string;
  cleanup(): Promise<void>;
}

/** A fresh database: a new one on the PostgreSQL server, or a temporary PGlite directory. */
async function createEnvironment(options: BenchOptions): Promise<Environment> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'helpdesk-bench-'));
  const removeDir = async () => rmSync(dataDir, { recursive: true, force: true });
  if (!options.databaseUrl) {
    return { kind: 'embedded', dataDir, describe: `embedded PGlite in ${dataDir}`, cleanup: options.keep ? async () => undefined : removeDir };
  }
  const name = `helpdesk_bench_${randomBytes(5).toString('hex')}`;
  const admin = new Client({ connectionString: options.databaseUrl });
  await admin.connect();
  const version = (await admin.query<{ server_version: string }>('show server_version')).rows[0]!.server_version;
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(options.databaseUrl);
  url.pathname = `/${name}`;
  return {
    kind: 'postgres',
    databaseUrl: url.toString(),
    adminUrl: options.databaseUrl,
    databaseName: name,
    dataDir,
    describe: `PostgreSQL ${version}, fresh database ${name} at ${url.host}`,
    async cleanup() {
      await removeDir();
      if (options.keep) return;
      const client = new Client({ connectionString: options.databaseUrl });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

function machineNotes(): string {
  const cpus = os.cpus();
  const pglite = JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules/@electric-sql/pglite/package.json'), 'utf8')) as { version: string };
  return [
    `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}`,
    `${Math.round(os.totalmem() / 1024 ** 3)} GiB RAM`,
    `Linux ${os.release()}`,
    `Node ${process.version}`,
    `PGlite ${pglite.version}`,
  ].join(', ');
}

const firstDifference = (a: unknown, b: unknown, at = '$'): string | undefined => {
  if (isDeepStrictEqual(a, b)) return undefined;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return `${at}: ${JSON.stringify(a)?.slice(0, 120)} ≠ ${JSON.stringify(b)?.slice(0, 120)}`;
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    const difference = firstDifference((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], `${at}.${key}`);
    if (difference) return difference;
  }
  return `${at}: differs`;
};

/** Where two texts first differ, with a little of each from there. */
function firstByteDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `${i}: ${JSON.stringify(a.slice(Math.max(0, i - 40), i + 40))} ≠ ${JSON.stringify(b.slice(Math.max(0, i - 40), i + 40))}`;
}

/** Each list page and its floor (targets.ts): the same page of the same viewer, served the cheapest way. */
const LIST_PAGES: ReadonlyArray<readonly [list: string, floor: string]> = [
  ['gql-list-scheduler', 'floor'],
  ['gql-list-customer', 'floor-customer'],
  ['gql-list-staff', 'floor-staff'],
];

/** How many tickets a response carries (a page that silently shrank would flatter the numbers). */
function ticketsIn(body: string): number | undefined {
  try {
    const parsed = JSON.parse(body) as {
      data?: { tickets?: { edges?: unknown[] }; ticket?: unknown };
      tickets?: unknown[];
    };
    return parsed.data?.tickets?.edges?.length ?? parsed.tickets?.length ?? (parsed.data?.ticket ? 1 : undefined);
  } catch {
    return undefined;
  }
}

interface Measurement {
  readonly result?: RoundResult;
  readonly skipped?: string;
  /** The body of the first request, for the bound-versus-page check. */
  readonly sample?: string;
}

/**
 * Autocannon stops sending when its time is up, but the server may still be working on requests
 * it already received: wait for them before reading state (write targets) or counting statements.
 */
const settle = () => new Promise((resolve) => setTimeout(resolve, 500));

/** Warm-up, measured run, then a sequential pass that counts SQL statements per request. */
async function measure(
  server: ServerProcess,
  target: Target,
  round: number,
  options: BenchOptions,
  postgres: PostgresCpu | undefined,
  warmupSeconds: number,
): Promise<Measurement> {
  const skip = await target.prepare?.(server.url);
  if (skip) return { skipped: skip };
  const probe = await send(server.url, target);
  if (!target.isSuccess(probe.status, probe.body)) {
    return { skipped: `failed: HTTP ${probe.status} ${probe.body.slice(0, 200)}` };
  }
  if (round === 1) {
    const tickets = ticketsIn(probe.body);
    log(`  ${target.name}: ${Buffer.byteLength(probe.body)} bytes per response${tickets === undefined ? '' : `, ${tickets} ticket(s)`}`);
  }
  if (warmupSeconds > 0) {
    const warmup = await load(server.url, target, warmupSeconds, options.connections);
    if (warmup.firstFailure) log(`  ${target.name} warm-up: ${warmup.failed} failed, first: ${warmup.firstFailure}`);
  }
  await settle();
  await target.prepare?.(server.url);
  const before = await server.send({ type: 'sample', reset: true });
  const dbBefore = await postgres?.sample();
  const run = await load(server.url, target, options.duration, options.connections);
  if (run.firstFailure) log(`  ${target.name}: ${run.failed} failed, first: ${run.firstFailure}`);
  const after = await server.send({ type: 'sample', reset: false });
  const dbAfter = await postgres?.sample();

  await settle();
  await target.prepare?.(server.url);
  await server.send({ type: 'count', enabled: true });
  let countFailures = 0;
  for (let i = 0; i < options.countRequests; i++) {
    const response = await send(server.url, target);
    if (!target.isSuccess(response.status, response.body)) {
      if (countFailures++ === 0) log(`  ${target.name} counting pass failed: HTTP ${response.status} ${response.body.slice(0, 300)}`);
    }
  }
  const { queries = Number.NaN } = await server.send({ type: 'count', enabled: false });
  return {
    sample: probe.body,
    result: {
      round,
      requestsPerSecond: run.requestsPerSecond,
      p50: run.p50,
      p99: run.p99,
      peakRss: after.peakRss ?? Number.NaN,
      cpuMsPerRequest: ((after.cpuMicros ?? Number.NaN) - (before.cpuMicros ?? Number.NaN)) / 1000 / run.requests,
      dbCpuMsPerRequest: dbBefore && dbAfter && postgres?.available ? PostgresCpu.elapsedMs(dbBefore, dbAfter) / run.requests : Number.NaN,
      statementsPerRequest: queries / options.countRequests,
      requests: run.requests,
      failed: run.failed + countFailures,
    },
  };
}

async function startServer(kind: Target['server'], env: NodeJS.ProcessEnv, options: BenchOptions): Promise<ServerProcess> {
  const execArgv = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(options.cpuProfDir, kind)}`] : [];
  if (kind === 'app') execArgv.push(...options.appNodeArgs);
  const script = kind === 'app' ? APP_SERVER : kind === 'before' ? path.join(options.before!, 'dist-bench', 'bench', 'app-server.js') : BOUND_SERVER;
  const server = await ServerProcess.start(script, env, { execArgv });
  running.add(server);
  return server;
}

async function stopServer(server: ServerProcess): Promise<void> {
  await server.stop();
  running.delete(server);
}

async function run(options: BenchOptions): Promise<void> {
  const benchStarted = performance.now();
  log(`Help desk benchmark, ${new Date().toISOString()}`);
  log(`Machine: ${machineNotes()}`);
  const environment = await createEnvironment(options);
  cleanupEnvironment = () => environment.cleanup();
  log(`Database: ${environment.describe}`);

  try {
    const seedStarted = performance.now();
    const database = await openDatabase({ databaseUrl: environment.databaseUrl, dataDir: environment.databaseUrl ? undefined : environment.dataDir });
    let seed: SeedResult;
    try {
      seed = await seedDatabase(database.orm.em.fork(), options.tickets);
    } finally {
      await database.close();
    }
    const { counts } = seed;
    log(
      `Seeded ${counts.users} users, ${counts.tickets} tickets, ${counts.replies} replies, ${counts.history} history entries ` +
        `in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`,
    );

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
      BOUND_VIEWER_ID: String(seed.scheduler.id),
      BOUND_VIEWER_ROLES: seed.scheduler.roles.join(','),
      BOUND_STAFF_ID: String(seed.staff.id),
      BOUND_STAFF_ROLES: seed.staff.roles.join(','),
      BOUND_CUSTOMER_ID: String(seed.customer.id),
      BOUND_CUSTOMER_ROLES: seed.customer.roles.join(','),
    };
    if (environment.databaseUrl) env.DATABASE_URL = environment.databaseUrl;
    else delete env.DATABASE_URL;

    // A write reaches the same ticket again only after the whole pool: far more tickets than
    // connections, or a transition can overtake the previous one on its ticket.
    if (seed.transitionPool.length < 4 * options.connections) {
      log(`Warning: ${seed.transitionPool.length} tickets for ${options.connections} connections; transitions may conflict (seed more tickets)`);
    }
    const targets = buildTargets(seed, key).filter(
      (target) => options.targets.length === 0 || options.targets.some((wanted) => target.name.toLowerCase().includes(wanted.toLowerCase())),
    );
    if (targets.length === 0) throw new Error(`No target matches --targets=${options.targets.join(',')}`);
    if (options.before) {
      // The earlier build serves the same reads (never the writes: both builds would share the
      // write targets' tickets), in the same rounds, so before/after is one run's ratio.
      for (const target of targets.filter((candidate) => candidate.server === 'app' && !candidate.dynamic)) {
        targets.push({ ...target, name: `before:${target.name}`, description: `${target.description}, earlier build in ${options.before}`, server: 'before' });
      }
    }
    log(
      `Each target alone: ${options.warmup} s warm-up, ${options.duration} s measured, ${options.connections} connections, ` +
        `${options.rounds} rounds; then ${options.countRequests} sequential requests to count SQL statements` +
        (options.appNodeArgs.length ? `; product server runs with ${options.appNodeArgs.join(' ')}` : ''),
    );
    log();

    // Other work on a shared machine moves absolute numbers: keep the load next to the results.
    const loadAverages: number[] = [os.loadavg()[0]!];
    // PostgreSQL's own CPU per request: its backends serving the benchmark's database.
    const postgres = environment.adminUrl ? await PostgresCpu.open(environment.adminUrl, environment.databaseName!) : undefined;
    if (postgres && !postgres.available) log('PostgreSQL backends are not visible in /proc here: its CPU is not measured');
    const summaries: TargetSummary[] = targets.map((target) => ({
      name: target.name,
      description: target.description,
      bound: target.bound,
      floor: target.floor,
      rounds: [],
    }));
    const samples = new Map<string, string>();
    for (let round = 1; round <= options.rounds; round++) {
      // PGlite allows one process per data directory, so the bound and the app never overlap;
      // which goes first alternates, so neither always gets the cooler machine.
      const order: Array<Target['server']> = round % 2 === 1 ? ['bound', 'app', 'before'] : ['before', 'app', 'bound'];
      for (const kind of order) {
        const group = targets.filter((target) => target.server === kind);
        if (group.length === 0) continue;
        const server = await startServer(kind, env, options);
        try {
          let fresh = true;
          for (const target of group) {
            const summary = summaries.find((candidate) => candidate.name === target.name)!;
            if (summary.skipped) continue;
            // The first target of a new process also warms the process itself (V8's optimising
            // compiler, graphql-jit's compilation): on a loaded machine 2 s were a few dozen
            // requests, and the first target measured a half-cold server.
            const measurement = await measure(server, target, round, options, postgres, fresh ? 3 * options.warmup : options.warmup);
            fresh = false;
            if (measurement.skipped) {
              summary.skipped = measurement.skipped;
              log(`[round ${round}] ${target.name}: skipped, ${measurement.skipped}`);
              continue;
            }
            if (measurement.sample && !samples.has(target.name)) samples.set(target.name, measurement.sample);
            const r = measurement.result!;
            summary.rounds.push(r);
            log(
              `[round ${round}] ${target.name.padEnd(22)} ${r.requestsPerSecond.toFixed(0).padStart(6)} req/s  ` +
                `p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  ` +
                `CPU ${r.cpuMsPerRequest.toFixed(2).padStart(6)}${Number.isFinite(r.dbCpuMsPerRequest) ? ` + PG ${r.dbCpuMsPerRequest.toFixed(2)}` : ''} ms/req  RSS ${Math.round(r.peakRss / 1024 / 1024)} MB  ` +
                `${r.statementsPerRequest.toFixed(1)} SQL/req` +
                (r.failed ? `  ${r.failed} FAILED` : ''),
            );
          }
        } finally {
          await stopServer(server);
        }
      }
      loadAverages.push(os.loadavg()[0]!);
    }
    await postgres?.close();

    const bound = samples.get('sql-bound');
    const page = samples.get('gql-list-scheduler');
    /** Each list page beside its floor: the same bytes, or where they differ. */
    const floorChecks = LIST_PAGES.map(([list, floorName]) => {
      const floor = samples.get(floorName);
      const listed = samples.get(list);
      if (!floor || !listed) return `${floorName} returns the same bytes as ${list}: not checked (run them together)`;
      const same =
        floor === listed
          ? `yes, byte for byte (${Buffer.byteLength(listed)} bytes, ${JSON.parse(listed).data.tickets.edges.length} tickets)`
          : `NO — ${firstDifference(JSON.parse(floor), JSON.parse(listed)) ?? `same JSON, different bytes from offset ${firstByteDifference(floor, listed)}`}`;
      return `${floorName} returns the same bytes as ${list}: ${same}`;
    });
    let sameJson = 'not checked (run sql-bound and gql-list-scheduler together)';
    if (bound && page) {
      const difference = firstDifference(JSON.parse(bound), JSON.parse(page));
      sameJson = difference
        ? `NO — first difference ${difference}`
        : `yes (${Buffer.byteLength(page)} bytes, ${JSON.parse(page).data.tickets.edges.length} tickets)`;
    }

    let coldStarts: ColdStartResult[] = [];
    if (options.coldRuns > 0) {
      log();
      log(`Cold start: ${options.coldRuns} runs per kind of node dist/main.js on the embedded database...`);
      coldStarts = await measureColdStarts(
        MAIN_SCRIPT,
        options.coldRuns,
        environment.kind === 'embedded' ? { dataDir: environment.dataDir, env: { CREDENTIAL_KEY: env.CREDENTIAL_KEY } } : undefined,
      );
    }

    log();
    log(`## Results (${environment.kind === 'embedded' ? 'embedded PGlite' : 'PostgreSQL'}, ${new Date().toISOString().slice(0, 10)})`);
    log();
    log(`Machine: ${machineNotes()}. Database: ${environment.describe.replace(/ in \/.*$/, '')}.`);
    log(
      `Data: ${counts.users} users, ${counts.tickets} tickets, ${counts.replies} replies, ${counts.history} history entries. ` +
        `${options.connections} connections, ${options.warmup} s warm-up + ${options.duration} s per target, ${options.rounds} rounds; ` +
        `medians over rounds, × bound = median of per-round ratios.`,
    );
    log(
      `Machine load (1-min load average, ${os.cpus().length} cores) at the start and after each round: ` +
        `${loadAverages.map((value) => value.toFixed(1)).join(', ')}.`,
    );
    log();
    log(resultsTable(summaries));
    log();
    log(targetList(summaries));
    log();
    for (const line of floorChecks) log(line);
    log(`SQL bound (json_agg) returns the same JSON as gql-list-scheduler: ${sameJson}`);
    for (const name of ['filtered', 'search', 'search-short', 'stats']) {
      const boundBody = samples.get(`sql-bound-${name}`);
      const appBody = samples.get(`gql-${name}`);
      if (!boundBody || !appBody) continue;
      const difference = firstDifference(JSON.parse(boundBody), JSON.parse(appBody));
      const tickets = ticketsIn(appBody);
      log(
        `sql-bound-${name} returns the same JSON as gql-${name}: ${difference ? `NO — first difference ${difference}` : `yes (${Buffer.byteLength(appBody)} bytes${tickets === undefined ? '' : `, ${tickets} tickets`})`}`,
      );
      const app = summaries.find((summary) => summary.name === `gql-${name}`);
      const bound = summaries.find((summary) => summary.name === `sql-bound-${name}`);
      if (app?.rounds.length && bound?.rounds.length) log(`gql-${name} / sql-bound-${name}: ${boundRatio(app, bound).toFixed(2)}×`);
    }
    const gqlList = summaries.find((summary) => summary.name === 'gql-list-scheduler');
    const listNames = LIST_PAGES.map(([list]) => list);
    for (const name of [...listNames, ...listNames.map((list) => `before:${list}`), 'sql-bound']) {
      const summary = summaries.find((candidate) => candidate.name === name);
      const floorName = summary?.floor ?? 'floor';
      const floorSummary = summaries.find((candidate) => candidate.name === floorName);
      if (!summary?.rounds.length || !floorSummary?.rounds.length) continue;
      const perRound = (value: (r: RoundResult, f: RoundResult) => number) =>
        summary.rounds.flatMap((r) => {
          const f = floorSummary.rounds.find((candidate) => candidate.round === r.round);
          return f ? [value(r, f)] : [];
        });
      const throughput = perRound((r, f) => r.requestsPerSecond / f.requestsPerSecond);
      const cpu = perRound((r, f) => totalCpu(r) / totalCpu(f));
      log(
        `${name} / ${floorName}: throughput ${median(throughput).toFixed(2)}× (per round ${throughput.map((x) => x.toFixed(2)).join(', ')}; goal ≥ 0.8), ` +
          `total CPU per request ${median(cpu).toFixed(2)}× (per round ${cpu.map((x) => x.toFixed(2)).join(', ')}; goal ≤ 1.3)`,
      );
    }
    const boundSummary = summaries.find((summary) => summary.name === 'sql-bound');
    if (gqlList?.rounds.length && boundSummary?.rounds.length) {
      const ratios = gqlList.rounds.map((r) => r.requestsPerSecond / boundSummary.rounds.find((b) => b.round === r.round)!.requestsPerSecond);
      log(`GraphQL list page / SQL bound: ${median(ratios).toFixed(2)}× (per round: ${ratios.map((x) => x.toFixed(2)).join(', ')}; goal ≥ 0.30)`);
    }
    if (coldStarts.length) {
      log();
      log(coldStartTable(coldStarts));
    }
    log();
    log(`Total benchmark time ${((performance.now() - benchStarted) / 1000).toFixed(0)} s.`);
    if (options.jsonFile) {
      writeFileSync(
        options.jsonFile,
        `${JSON.stringify({ date: new Date().toISOString(), machine: machineNotes(), loadAverages, database: environment.describe, counts, options, summaries, sameJson, coldStarts }, null, 2)}\n`,
      );
      log(`Results written to ${options.jsonFile}`);
    }
  } finally {
    if (options.keep) log(`Kept: ${environment.databaseUrl ?? environment.dataDir}`);
    cleanupEnvironment = undefined;
    await environment.cleanup();
  }
}

function main(): void {
  let options: BenchOptions;
  try {
    options = readOptions();
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  // Bounded: however the servers behave, the benchmark ends by itself.
  const perRound = 10 * (options.warmup + options.duration + 10) + 60;
  const limitMs = (options.rounds * perRound + options.coldRuns * 3 * 60 + 600) * 1000;
  const watchdog = setTimeout(() => {
    process.stderr.write(`Benchmark exceeded ${Math.round(limitMs / 1000)} s; stopping.\n`);
    void abandon().finally(() => process.exit(1));
  }, limitMs);
  watchdog.unref();
  const interrupt = () => void abandon().finally(() => process.exit(130));
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);

  run(options).then(
    () => {
      clearTimeout(watchdog);
      process.exit(0);
    },
    (error) => {
      process.stderr.write(`Benchmark failed: ${error instanceof Error ? error.stack : String(error)}\n`);
      void abandon().finally(() => process.exit(1));
    },
  );
}

main();
