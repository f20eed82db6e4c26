import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { encodeCredential } from '../../src/modules/auth/credential';
import {
  wallClock,
  type ClientCommand,
  type ClientProgress,
  type ClientReceipts,
  type Command,
  type PlannedSubscriber,
  type Ready,
  type Reply,
  type SeedResult,
  type SeededTicket,
  type SeededUser,
  type ServerSample,
} from './live-ipc';

/**
 * `npm run bench:live`: live-update delivery under load.
 *
 * Starts the product in one process of its own, or several on one PostgreSQL (`--processes`,
 * with DATABASE_URL; REDIS_URL too if set; otherwise an embedded database in a temporary
 * directory), seeds users and assigned tickets, opens real graphql-ws subscribers of mixed roles
 * from load processes of its own (live-clients.ts: one per `--per-client` sockets, each from its
 * own 127.0.0.x address), and for each subscriber count fires a steady stream of status changes
 * and replies through GraphQL over HTTP (round robin over the server processes). It prints, per
 * count: delivery latency from commit to receipt (p50/p95/p99/max), deliveries per second, each
 * server's memory per open connection, its CPU, its reads per event, and the load average.
 * Loopback only, every phase bounded, and the whole run stops by itself.
 *
 * Options: --subscribers 5000,10000,20000 (total counts over all server processes, ascending;
 * connections are added between steps; default 5,000, 10,000, 20,000, or 10,000 and 20,000 with
 * --processes 2), --processes 1, --per-client 5000, --rate 20 (events per second), --duration
 * 10 (seconds measured per step), --unshared (each socket sends a distinct query text, as if every
 * socket were a different viewer with a different selection: nothing is parsed or executed once
 * for several sockets; the worst case), --profile DIR (V8 CPU profiles of each server and load
 * process over each step's measured window; profiling adds its own CPU to the figures),
 * --heap-snapshot DIR (a heap snapshot of the first server after the last step's connections),
 * --fd-limit N (start the servers under `prlimit --nofile=N:N`).
 *
 * A server holds one file descriptor per socket and can hold no more than its limit allows
 * (`ulimit -Hn`; raising the hard limit needs CAP_SYS_RESOURCE): a step that does not fit is cut
 * to what fits, and the table says so.
 */

interface Options {
  /** Total subscribers per step, over all server processes. */
  subscribers: number[];
  /** Server processes sharing one PostgreSQL (more than one needs DATABASE_URL). */
  processes: number;
  /** Subscribers per load process (each connects from a loopback address of its own). */
  perClient: number;
  /** Every socket sends a distinct query text: no shared document, no shared execution (worst case). */
  unshared: boolean;
  /** Write V8 CPU profiles of the server and load processes' measured windows into this directory. */
  profile?: string;
  /** Write a V8 heap snapshot of the first server process after the last step's connections. */
  heapSnapshot?: string;
  /** Start the servers under `prlimit --nofile=N:N` (raising the hard limit needs CAP_SYS_RESOURCE). */
  fdLimit?: number;
  rate: number;
  duration: number;
  warmup: number;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { subscribers: [], processes: 1, perClient: 5_000, unshared: false, rate: 20, duration: 10, warmup: 2 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--unshared') {
      options.unshared = true;
      continue;
    }
    const [flag, inline] = argv[i].split('=');
    const value = inline ?? argv[++i];
    const number = (max: number) => {
      const parsed = Number(value);
      if (!Number.isFinite(parsed) || parsed <= 0 || parsed > max) throw new Error(`${flag} must be a number from 1 to ${max}`);
      return parsed;
    };
    if (flag === '--subscribers') {
      options.subscribers = value.split(',').map((part) => {
        const count = Number(part);
        if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new Error('--subscribers takes counts from 1 to 100,000');
        return count;
      });
      options.subscribers.sort((a, b) => a - b);
    } else if (flag === '--processes') options.processes = number(8);
    else if (flag === '--per-client') options.perClient = number(15_000);
    else if (flag === '--rate') options.rate = number(500);
    else if (flag === '--duration') options.duration = number(120);
    else if (flag === '--warmup') options.warmup = number(30);
    else if (flag === '--profile') options.profile = path.resolve(value);
    else if (flag === '--heap-snapshot') options.heapSnapshot = path.resolve(value);
    else if (flag === '--fd-limit') options.fdLimit = number(1_048_576);
    else throw new Error(`unknown option ${flag}; see bench/live/live-bench.ts`);
  }
  if (!Number.isInteger(options.processes)) throw new Error('--processes takes a whole number');
  if (options.processes > 1 && !process.env.DATABASE_URL) throw new Error('--processes above 1 needs DATABASE_URL (one PostgreSQL shared by the processes)');
  if (!options.subscribers.length) options.subscribers = options.processes > 1 ? [10_000, 20_000] : [5_000, 10_000, 20_000];
  return options;
}

/** Roles of the subscribers, as shares of the connections (a help desk's dashboards). */
const MIX = { customer: 0.8, staff: 0.17, scheduler: 0.03 } as const;
const USERS = { customers: 300, staff: 60, schedulers: 10, ticketsPerCustomer: 2 };
/** Hard stop for the whole run (the first connection of each of 370 users costs a scrypt). */
const RUN_TIMEOUT_MS = 40 * 60_000;
/** Users whose first connection is checked at once (each check is a scrypt on the server's pool). */
const FRESH_BATCH = 20;
/**
 * Descriptors a server keeps free beside its sockets: its pooled PostgreSQL connections (10,
 * not all open yet when the descriptors are counted), the load generator's HTTP connections (one
 * per mutation in flight: tens when the machine is busy), files it opens while running. 48 was
 * too few on PostgreSQL (a server holds ~25 descriptors of its own there, against ~200 with the
 * embedded database): a server at its limit refused the mutations' connections (EMFILE).
 */
const FD_HEADROOM = 160;

const DASHBOARD = `subscription {
  ticketEvents {
    cursor kind at
    actor { id username }
    reply { id content createdAt author { id username } }
    ticket {
      id status content updatedAt
      customer { id username } staff { id username }
      permissions { reply edit assign startProcessing requestInformation fix close reopen cancel }
    }
  }
}`;

/** A child process spoken to over the `fork` IPC channel, request by request. */
class Child<C, R = Ready> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

  private constructor(
    private readonly child: ChildProcess,
    readonly ready: R,
  ) {
    child.on('message', (message: Reply) => {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.error) waiter.reject(new Error(message.error));
      else waiter.resolve(message.result);
    });
    child.once('exit', (code) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`a benchmark process exited (${code})`));
      this.pending.clear();
    });
  }

  static async start<C, R>(
    script: string,
    options: { env?: NodeJS.ProcessEnv; execArgv?: string[]; fdLimit?: number; timeoutMs: number },
  ): Promise<Child<C, R>> {
    const execArgv = options.execArgv ?? [];
    // Raising a hard limit needs CAP_SYS_RESOURCE; prlimit fails loudly without it.
    const child = options.fdLimit
      ? fork(script, [], {
          env: options.env,
          execPath: 'prlimit',
          execArgv: [`--nofile=${options.fdLimit}:${options.fdLimit}`, process.execPath, ...execArgv],
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        })
      : fork(script, [], { env: options.env, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const ready = await new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${path.basename(script)} did not start within ${options.timeoutMs / 1000} s`)), options.timeoutMs);
      child.once('exit', (code) => reject(new Error(`${path.basename(script)} exited with ${code} before it was ready`)));
      child.on('message', (message: { type?: string }) => {
        if (message.type !== 'ready') return;
        clearTimeout(timer);
        resolve(message as R);
      });
    });
    return new Child<C, R>(child, ready);
  }

  ask<T>(command: C): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.child.exitCode !== null) return reject(new Error('a benchmark process has exited'));
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ id, command });
    });
  }

  /** Asks the process to stop and waits for it to exit. */
  async stop(command: C): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    await this.ask(command).catch(() => undefined);
    await Promise.race([exited, sleep(20_000)]);
    this.kill();
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

type ServerProcess = Child<Command, Ready>;
type LoadProcess = Child<ClientCommand, { type: 'ready' }>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: Float64Array, p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const mib = (bytes: number) => bytes / (1024 * 1024);
const kib = (bytes: number) => bytes / 1024;
const sampleAll = (servers: ServerProcess[], gc: boolean) => Promise.all(servers.map((server) => server.ask<ServerSample>({ type: 'sample', gc })));

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const key = randomBytes(32);
  const dataDir = process.env.DATABASE_URL ? undefined : mkdtempSync(path.join(tmpdir(), 'helpdesk-live-bench-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // As deployed (the Dockerfile) and as the read and write benchmarks run it: graphql-js's
    // development checks are off.
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    CREDENTIAL_KEY: key.toString('hex'),
    ADMIN_PASSWORD: randomBytes(12).toString('hex'),
    ADMIN_USERNAME: `live-bench-admin-${randomBytes(3).toString('hex')}`,
    LOG_LEVEL: 'silent',
    // Every subscriber connects from a few loopback addresses: the per-address cap would refuse them.
    MAX_CONNECTIONS_PER_ADDRESS: '0',
    // The first connection of each of 370 users checks a password: at OWASP's scrypt cost that is
    // minutes of setup on a busy machine. Sign-in is not what this measures (the environment may
    // still set it).
    PASSWORD_SCRYPT_LOG2_N: process.env.PASSWORD_SCRYPT_LOG2_N ?? '12',
    ...(dataDir ? { DATA_DIR: dataDir } : {}),
  };
  const servers: ServerProcess[] = [];
  const loads: LoadProcess[] = [];
  const stopTimer = setTimeout(() => {
    process.stderr.write('live bench: run timeout, stopping\n');
    for (const child of [...servers, ...loads]) child.kill();
    process.exit(1);
  }, RUN_TIMEOUT_MS);
  stopTimer.unref();

  try {
    // One after the other: each runs the migrations check at start.
    for (let n = 0; n < options.processes; n++) {
      const execArgv = ['--expose-gc'];
      servers.push(await Child.start<Command, Ready>(path.join(__dirname, 'live-server.js'), { env, execArgv, fdLimit: options.fdLimit, timeoutMs: 120_000 }));
    }
    const first = servers[0];
    process.stdout.write(
      `Live updates benchmark: ${first.ready.database}, ${first.ready.bus} bus, ${servers.length} server process${servers.length > 1 ? 'es' : ''} ` +
        `(${servers.map((server) => server.ready.url).join(', ')})\n`,
    );
    const seeded = await first.ask<SeedResult>({ type: 'seed', request: USERS });
    const credentials = new Map(seeded.users.map((user) => [user.id, encodeCredential(user.username, seeded.password, key)]));
    const byRole = (role: SeededUser['role']) => seeded.users.filter((user) => user.role === role);
    const pools = { customer: byRole('customer'), staff: byRole('staff'), scheduler: byRole('scheduler') };
    process.stdout.write(
      `Seeded ${pools.customer.length} customers, ${pools.staff.length} staff, ${pools.scheduler.length} schedulers, ${seeded.tickets.length} assigned tickets; ` +
        `subscribers ${MIX.customer * 100}% customers, ${MIX.staff * 100}% staff, ${MIX.scheduler * 100}% schedulers, spread over the server processes; ` +
        `${options.rate} events/s for ${options.duration} s per step` +
        (options.unshared ? '; every socket a distinct query (nothing shared)' : '') +
        '\n\n',
    );

    const baseline = await sampleAll(servers, true);
    const wsUrls = servers.map((server) => `${server.ready.url.replace(/^http/, 'ws')}/graphql`);
    let opened = 0;
    const loadFor = async (index: number): Promise<LoadProcess> => {
      const n = Math.floor(index / options.perClient);
      while (loads.length <= n) loads.push(await Child.start<ClientCommand, { type: 'ready' }>(path.join(__dirname, 'live-clients.js'), { timeoutMs: 30_000 }));
      return loads[n];
    };

    /** Users whose credential the server processes have checked recently (their caches keep them 60 s). */
    const verified = new Set<string>();
    let verifiedAt = Date.now();
    /** Opens the planned subscribers: each load process opens its share, to its server, concurrently. */
    const openGroup = async (group: Array<{ index: number; role: SeededUser['role']; user: SeededUser }>) => {
      const commands = new Map<string, { load: number; server: number; subscribers: PlannedSubscriber[] }>();
      for (const { index, role, user } of group) {
        const load = Math.floor(index / options.perClient);
        await loadFor(index);
        const server = index % servers.length;
        const key = `${load}:${server}`;
        if (!commands.has(key)) commands.set(key, { load, server, subscribers: [] });
        commands.get(key)!.subscribers.push({
          role,
          credential: credentials.get(user.id)!,
          query: options.unshared ? `# socket ${index}\n${DASHBOARD}` : DASHBOARD,
        });
      }
      await Promise.all(
        [...commands.values()].map(({ load, server, subscribers }) =>
          loads[load].ask({ type: 'open', url: wsUrls[server], localAddress: `127.0.0.${2 + load}`, subscribers }),
        ),
      );
      opened += group.length;
      process.stdout.write(`\r  ${opened} connections open`);
    };
    /** Opens connections until there are `count`, keeping the role mix. */
    const openUpTo = async (count: number) => {
      if (Date.now() - verifiedAt > 50_000) {
        verified.clear();
        verifiedAt = Date.now();
      }
      const fresh: Array<{ index: number; role: SeededUser['role']; user: SeededUser }> = [];
      const rest: typeof fresh = [];
      for (let index = opened; index < count; index++) {
        const r = (index * 0.6180339887) % 1; // evenly spread roles over the connection order
        const role: SeededUser['role'] = r < MIX.scheduler ? 'scheduler' : r < MIX.scheduler + MIX.staff ? 'staff' : 'customer';
        const pool = pools[role];
        const user = pool[index % pool.length];
        // A user's first connection to a process costs a password check there (scrypt, hundreds
        // of ms on its thread pool); later ones hit its credential cache.
        const cacheKey = `${user.id}@${index % servers.length}`;
        if (verified.has(cacheKey)) rest.push({ index, role, user });
        else {
          verified.add(cacheKey);
          fresh.push({ index, role, user });
        }
      }
      for (let i = 0; i < fresh.length; i += FRESH_BATCH) await openGroup(fresh.slice(i, i + FRESH_BATCH));
      if (rest.length) await openGroup(rest);
      process.stdout.write('\n');
      const deadline = Date.now() + 60_000;
      for (;;) {
        const samples = await sampleAll(servers, false);
        if (samples.reduce((sum, sample) => sum + sample.subscribers, 0) >= count) break;
        if (Date.now() > deadline) throw new Error(`the servers did not register ${count} subscriptions in 60 s`);
        await sleep(100);
      }
    };

    // The load: status changes and replies by the people allowed to make them, through the
    // server processes in turn.
    const status = new Map<string, 'ASSIGNED' | 'IN_PROCESSING' | 'REQUEST_INFORMATION'>(seeded.tickets.map((ticket) => [ticket.id, 'ASSIGNED']));
    const busy = new Set<string>();
    let mutationErrors = 0;
    let turn = 0;
    const mutate = async (server: ServerProcess, user: number, query: string, variables: Record<string, unknown>) => {
      const response = await fetch(`${server.ready.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Credential ${credentials.get(user)}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as { errors?: unknown[] };
      if (!response.ok || body.errors) {
        mutationErrors++;
        return false;
      }
      return true;
    };
    const oneEvent = async (ticket: SeededTicket) => {
      busy.add(ticket.id);
      try {
        const n = turn++;
        const server = servers[n % servers.length];
        const kind = n % 4;
        if (kind === 0) {
          await mutate(server, ticket.customerId, 'mutation($id: ID!) { addReply(ticketId: $id, content: "Any news?") { id } }', { id: ticket.id });
        } else if (kind === 1) {
          await mutate(server, ticket.staffId, 'mutation($id: ID!) { addReply(ticketId: $id, content: "Working on it") { id } }', { id: ticket.id });
        } else {
          const processing = status.get(ticket.id) === 'IN_PROCESSING';
          const mutation = processing ? 'requestInformation' : 'startProcessing';
          if (await mutate(server, ticket.staffId, `mutation($id: ID!) { ${mutation}(id: $id) { id } }`, { id: ticket.id })) {
            status.set(ticket.id, processing ? 'REQUEST_INFORMATION' : 'IN_PROCESSING');
          }
        }
      } finally {
        busy.delete(ticket.id);
      }
    };
    const runLoad = async (seconds: number) => {
      const total = Math.round(seconds * options.rate);
      const start = Date.now();
      const inFlight: Array<Promise<void>> = [];
      for (let i = 0; i < total; i++) {
        const due = start + (i * 1000) / options.rate;
        if (due > Date.now()) await sleep(due - Date.now());
        let ticket = seeded.tickets[Math.floor(Math.random() * seeded.tickets.length)];
        for (let tries = 0; busy.has(ticket.id) && tries < 10; tries++) ticket = seeded.tickets[Math.floor(Math.random() * seeded.tickets.length)];
        if (busy.has(ticket.id)) continue;
        inFlight.push(oneEvent(ticket));
      }
      await Promise.all(inFlight);
      return total;
    };
    const commitsOfAll = async () => {
      const entries = await Promise.all(servers.map((server) => server.ask<Array<[number, number]>>({ type: 'commits' })));
      return new Map(entries.flat());
    };

    const rows: string[][] = [];
    const header = [
      'subscribers',
      'events',
      'deliveries',
      'per event',
      'deliveries/s',
      'p50 ms',
      'p95 ms',
      'p99 ms',
      'max ms',
      'RSS/conn',
      'added RSS/conn',
      'heap/conn',
      'server CPU',
      'client CPU',
      'server µs/delivery',
      'client µs/delivery',
      'ticket reads/event',
      'executions/event',
      'load avg',
    ];
    const perServer = (values: number[], format: (value: number) => string) => values.map(format).join(' / ');
    let lastMemory: ServerSample[] | undefined;
    for (const wanted of options.subscribers) {
      // Each socket holds a descriptor in its server process: cut the step to what fits.
      const fdSamples = await sampleAll(servers, false);
      const fits = Math.min(...fdSamples.map((sample) => sample.fdLimit - (sample.fds - sample.connections) - FD_HEADROOM));
      const perProcess = Math.ceil(wanted / servers.length);
      const count = perProcess <= fits ? wanted : fits * servers.length;
      if (count !== wanted) {
        process.stdout.write(
          `${wanted} subscribers need ${perProcess} sockets per server process; its descriptor limit is ${fdSamples[0].fdLimit} ` +
            `(${fdSamples[0].fds - fdSamples[0].connections} of them used by the process itself, ${FD_HEADROOM} kept free): opening ${count} instead\n`,
        );
      }
      if (count < opened) continue;
      await openUpTo(count);
      await sleep(1_000);
      const memory = await sampleAll(servers, true);

      await runLoad(options.warmup);
      await sleep(1_000);
      await commitsOfAll();
      await Promise.all(loads.map((load) => load.ask({ type: 'measure', on: true })));
      if (options.profile) await Promise.all([...servers, ...loads].map((child) => child.ask({ type: 'profile' })));
      const before = await sampleAll(servers, false);
      const started = wallClock();
      await runLoad(options.duration);
      // Drain: every scheduler dashboard sees every event, so they tell when delivery is done.
      const committed = await commitsOfAll();
      const drainDeadline = Date.now() + 15_000;
      while (Date.now() < drainDeadline) {
        const progress = await Promise.all(loads.map((load) => load.ask<ClientProgress>({ type: 'progress' })));
        if (progress.every((one) => one.schedulerMin >= committed.size)) break;
        await sleep(100);
      }
      await sleep(250);
      await Promise.all(loads.map((load) => load.ask({ type: 'measure', on: false })));
      const after = await sampleAll(servers, false);
      const elapsedMs = wallClock() - started;
      if (options.profile) {
        const dir = options.profile;
        mkdirSync(dir, { recursive: true });
        const files = await Promise.all([
          ...servers.map((server, n) => server.ask<string>({ type: 'profile', file: path.join(dir, `server-${n + 1}-${count}.cpuprofile`) })),
          ...loads.map((load, n) => load.ask<string>({ type: 'profile', file: path.join(dir, `clients-${n + 1}-${count}.cpuprofile`) })),
        ]);
        process.stdout.write(`CPU profiles of the measured window: ${files.join(', ')}\n`);
      }
      const collected = await Promise.all(loads.map((load) => load.ask<ClientReceipts>({ type: 'collect' })));
      const load = loadavg();

      const latencies: number[] = [];
      let lastReceipt = started;
      for (const { receipts } of collected) {
        for (let i = 0; i < receipts.length; i += 2) {
          const commit = committed.get(receipts[i]);
          if (commit === undefined) continue;
          latencies.push(receipts[i + 1] - commit);
          lastReceipt = Math.max(lastReceipt, receipts[i + 1]);
        }
      }
      const sorted = Float64Array.from(latencies).sort();
      const incomplete = collected.reduce((sum, one) => sum + one.schedulerCounts.filter((received) => received !== committed.size).length, 0);
      const subscriptionErrors = collected.reduce((sum, one) => sum + one.subscriptionErrors, 0);
      const retries = collected.reduce((sum, one) => sum + one.retries, 0);
      const parsedInFull = collected.reduce((sum, one) => sum + one.parsedInFull, 0);
      const clientCpuMicros = collected.reduce((sum, one) => sum + one.cpuMicros, 0);
      const serverCpuMicros = after.reduce((sum, sample, n) => sum + sample.cpuMicros - before[n].cpuMicros, 0);
      const deliveryWindowS = (lastReceipt - started) / 1000;
      const fanOuts = after.reduce((sum, sample, n) => sum + sample.eventsFannedOut - before[n].eventsFannedOut, 0);
      const delta = (field: 'ticketReads' | 'executions') => after.reduce((sum, sample, n) => sum + sample[field] - before[n][field], 0);
      rows.push([
        count === wanted ? String(count) : `${count} of ${wanted}`,
        String(committed.size),
        String(latencies.length),
        (latencies.length / Math.max(1, committed.size)).toFixed(0),
        (latencies.length / deliveryWindowS).toFixed(0),
        percentile(sorted, 50).toFixed(1),
        percentile(sorted, 95).toFixed(1),
        percentile(sorted, 99).toFixed(1),
        (sorted[sorted.length - 1] ?? NaN).toFixed(1),
        perServer(
          memory.map((sample, n) => (sample.rss - baseline[n].rss) / sample.connections),
          (bytes) => `${kib(bytes).toFixed(1)} KiB`,
        ),
        perServer(
          memory.map((sample, n) => {
            const previous = lastMemory?.[n] ?? baseline[n];
            return (sample.rss - previous.rss) / Math.max(1, sample.connections - previous.connections);
          }),
          (bytes) => `${kib(bytes).toFixed(1)} KiB`,
        ),
        perServer(
          memory.map((sample, n) => (sample.heapUsed + sample.external - baseline[n].heapUsed - baseline[n].external) / sample.connections),
          (bytes) => `${kib(bytes).toFixed(1)} KiB`,
        ),
        perServer(
          after.map((sample, n) => ((sample.cpuMicros - before[n].cpuMicros) / 1000 / elapsedMs) * 100),
          (percent) => `${percent.toFixed(0)}%`,
        ),
        `${((clientCpuMicros / 1000 / elapsedMs) * 100).toFixed(0)}%`,
        (serverCpuMicros / Math.max(1, latencies.length)).toFixed(1),
        (clientCpuMicros / Math.max(1, latencies.length)).toFixed(1),
        (fanOuts ? delta('ticketReads') / fanOuts : 0).toFixed(2),
        (fanOuts ? delta('executions') / fanOuts : 0).toFixed(1),
        `${load[0].toFixed(1)} (${load[1].toFixed(1)})`,
      ]);
      process.stdout.write(
        `${count} subscribers: p99 ${percentile(sorted, 99).toFixed(1)} ms over ${latencies.length} deliveries of ${committed.size} events` +
          ` (server RSS ${memory
            .map(
              (sample, n) =>
                `${mib(sample.rss).toFixed(0)} MiB with ${sample.connections} sockets: ` +
                `${kib((sample.rss - baseline[n].rss) / sample.connections).toFixed(1)} KiB RSS, ` +
                `${kib((sample.heapUsed + sample.external - baseline[n].heapUsed - baseline[n].external) / sample.connections).toFixed(1)} KiB heap per connection`,
            )
            .join(', ')}; load average ${load.map((value) => value.toFixed(1)).join(' ')})` +
          (incomplete ? `; ${incomplete} scheduler dashboards missed events` : '') +
          (mutationErrors ? `; ${mutationErrors} mutations failed` : '') +
          (subscriptionErrors ? `; ${subscriptionErrors} subscription errors` : '') +
          (retries ? `; ${retries} connection attempts failed and were retried (so far)` : '') +
          (parsedInFull ? `; ${parsedInFull} messages did not start like a next message and were parsed in full (so far)` : '') +
          '\n',
      );
      lastMemory = memory;
    }
    if (options.heapSnapshot && lastMemory) {
      mkdirSync(options.heapSnapshot, { recursive: true });
      const file = await first.ask<string>({ type: 'snapshot', dir: options.heapSnapshot });
      process.stdout.write(`Heap snapshot of the first server with ${lastMemory[0].connections} sockets: ${file}\n`);
    }

    const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
    const line = (cells: string[]) => `| ${cells.map((cell, column) => cell.padStart(widths[column])).join(' | ')} |`;
    process.stdout.write(`\n${line(header)}\n|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|\n${rows.map(line).join('\n')}\n`);
    process.stdout.write(
      `\nClient CPU: the ${loads.length} load process${loads.length > 1 ? 'es' : ''} together (subscribers), in % of one core; the load generator (mutations) runs in this process.\n` +
        'µs/delivery: CPU time over the measured window divided by the deliveries in it; the servers together (the mutations\n' +
        'they serve included), and the load processes together.\n' +
        `Load avg: the machine's 1-minute (5-minute) load average at the end of the step (${availableParallelism()} cores: above that, the server waits for CPU).\n` +
        'Latency: from the commit (the writing server notes the instant its bus is told, right after COMMIT) to the\n' +
        "client's receipt of the frame, both on this machine's wall clock. Memory: each server's RSS and JS heap+external\n" +
        'growth since before the first connection, after a full GC, divided by its open connections (one figure per server process);\n' +
        'added RSS/conn: the RSS growth since the previous step divided by the connections added (the fixed costs cancel out).\n',
    );
  } finally {
    await Promise.all(loads.map((load) => load.stop({ type: 'close' })));
    await Promise.all(servers.map((server) => server.stop({ type: 'stop' })));
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    clearTimeout(stopTimer);
  }
}

main().catch((error) => {
  process.stderr.write(`live bench failed: ${error instanceof Error ? error.stack : inspect(error, { depth: 2 })}\n`);
  process.exit(1);
});
