import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { encodeCredential } from '../../src/modules/auth/credential';
import { wallClock, type Command, type Ready, type Reply, type SeedResult, type SeededTicket, type SeededUser, type ServerSample } from './live-ipc';

/**
 * `npm run bench:live`: live-update delivery under load.
 *
 * Starts the product in a process of its own (embedded database in a temporary directory, or
 * DATABASE_URL; REDIS_URL too if set), seeds users and assigned tickets, opens real graphql-ws
 * subscribers of mixed roles from this process, and for each subscriber count fires a steady
 * stream of status changes and replies through GraphQL over HTTP. It prints, per count:
 * delivery latency from commit to receipt (p50/p95/p99/max), deliveries per second, the
 * server's memory per open connection, its CPU, and its reads per event. Loopback only, every
 * phase bounded, and the whole run stops by itself.
 *
 * Options: --subscribers 1000,5000,10000 (the counts, ascending; connections are added between
 * steps), --rate 20 (events per second), --duration 10 (seconds measured per step), --unshared
 * (each socket sends a distinct query text, as if every socket were a different viewer with a
 * different selection: nothing is parsed or executed once for several sockets; the worst case),
 * --profile DIR (a V8 CPU profile of the server process, written when it stops).
 */

interface Options {
  subscribers: number[];
  /** Every socket sends a distinct query text: no shared document, no shared execution (worst case). */
  unshared: boolean;
  /** Write a V8 CPU profile of the server process into this directory. */
  profile?: string;
  rate: number;
  duration: number;
  warmup: number;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { subscribers: [1_000, 5_000, 10_000], unshared: false, rate: 20, duration: 10, warmup: 2 };
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
        if (!Number.isInteger(count) || count < 1 || count > 10_000) throw new Error('--subscribers takes counts from 1 to 10,000');
        return count;
      });
      options.subscribers.sort((a, b) => a - b);
    } else if (flag === '--rate') options.rate = number(500);
    else if (flag === '--duration') options.duration = number(120);
    else if (flag === '--warmup') options.warmup = number(30);
    else if (flag === '--profile') options.profile = path.resolve(value);
    else throw new Error(`unknown option ${flag}; see bench/live/live-bench.ts`);
  }
  return options;
}

/** Roles of the subscribers, as shares of the connections (a help desk's dashboards). */
const MIX = { customer: 0.8, staff: 0.17, scheduler: 0.03 } as const;
const USERS = { customers: 300, staff: 60, schedulers: 10, ticketsPerCustomer: 2 };
/** Hard stop for the whole run. */
const RUN_TIMEOUT_MS = 15 * 60_000;
const CONNECT_BATCH = 250;

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

/** The server process and its IPC. */
class ServerProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

  private constructor(
    private readonly child: ChildProcess,
    readonly ready: Ready,
  ) {
    child.on('message', (message: Reply) => {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.error) waiter.reject(new Error(message.error));
      else waiter.resolve(message.result);
    });
  }

  static async start(env: NodeJS.ProcessEnv, profileDir?: string): Promise<ServerProcess> {
    const script = path.join(__dirname, 'live-server.js');
    const execArgv = ['--expose-gc', ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
    const child = fork(script, [], { env, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const ready = await new Promise<Ready>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the server did not start within 120 s')), 120_000);
      child.once('exit', (code) => reject(new Error(`the server exited with ${code} before it was ready`)));
      child.on('message', (message: Ready) => {
        if (message.type !== 'ready') return;
        clearTimeout(timer);
        resolve(message);
      });
    });
    return new ServerProcess(child, ready);
  }

  ask<T>(command: Command): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ id, command });
    });
  }

  /** Asks the server to close and waits for it to exit (a CPU profile is written on exit). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    await this.ask({ type: 'stop' }).catch(() => undefined);
    await Promise.race([exited, sleep(20_000)]);
    this.kill();
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

interface Subscriber {
  readonly role: SeededUser['role'];
  readonly client: Client;
  /** Seqs received during the measured window. */
  received: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seqOf = (cursor: string): number => Number(Buffer.from(cursor, 'base64url').toString('utf8').slice('event:'.length));

function percentile(sorted: Float64Array, p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const mib = (bytes: number) => bytes / (1024 * 1024);
const kib = (bytes: number) => bytes / 1024;

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const key = randomBytes(32);
  const dataDir = process.env.DATABASE_URL ? undefined : mkdtempSync(path.join(tmpdir(), 'helpdesk-live-bench-'));
  const server = await ServerProcess.start(
    {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      CREDENTIAL_KEY: key.toString('hex'),
      ADMIN_PASSWORD: randomBytes(12).toString('hex'),
      ADMIN_USERNAME: `live-bench-admin-${randomBytes(3).toString('hex')}`,
      LOG_LEVEL: 'silent',
      // Every subscriber connects from this one address: the per-address cap would refuse them.
      MAX_CONNECTIONS_PER_ADDRESS: '0',
      ...(dataDir ? { DATA_DIR: dataDir } : {}),
    },
    options.profile,
  );
  const stopTimer = setTimeout(() => {
    process.stderr.write('live bench: run timeout, stopping\n');
    server.kill();
    process.exit(1);
  }, RUN_TIMEOUT_MS);
  stopTimer.unref();

  const subscribers: Subscriber[] = [];
  try {
    process.stdout.write(`Live updates benchmark: ${server.ready.database}, ${server.ready.bus} bus, server ${server.ready.url}\n`);
    const seeded = await server.ask<SeedResult>({ type: 'seed', request: USERS });
    const credentials = new Map(seeded.users.map((user) => [user.id, encodeCredential(user.username, seeded.password, key)]));
    const byRole = (role: SeededUser['role']) => seeded.users.filter((user) => user.role === role);
    const pools = { customer: byRole('customer'), staff: byRole('staff'), scheduler: byRole('scheduler') };
    process.stdout.write(
      `Seeded ${pools.customer.length} customers, ${pools.staff.length} staff, ${pools.scheduler.length} schedulers, ${seeded.tickets.length} assigned tickets; ` +
        `subscribers ${MIX.customer * 100}% customers, ${MIX.staff * 100}% staff, ${MIX.scheduler * 100}% schedulers; ` +
        `${options.rate} events/s for ${options.duration} s per step` +
        (options.unshared ? '; every socket a distinct query (nothing shared)' : '') +
        '\n\n',
    );

    const baseline = await server.ask<ServerSample>({ type: 'sample', gc: true });
    const wsUrl = `${server.ready.url.replace(/^http/, 'ws')}/graphql`;
    let measuring = false;
    let receipts: number[] = [];
    let subscriptionErrors = 0;

    const open = (role: SeededUser['role'], user: SeededUser): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        const subscriber: Subscriber = { role, client: undefined as unknown as Client, received: 0 };
        const client = createClient({
          url: wsUrl,
          webSocketImpl: WebSocket,
          connectionParams: { credential: credentials.get(user.id) },
          lazy: false,
          retryAttempts: 0,
          onNonLazyError: (error) => {
            const { code, reason } = error as { code?: number; reason?: string };
            reject(error instanceof Error ? error : new Error(`a subscriber's connection closed: ${code} ${reason ?? ''}`));
          },
          on: { connected: () => resolve() },
        });
        (subscriber as { client: Client }).client = client;
        client.subscribe<{ ticketEvents: { cursor: string } }>(
          { query: options.unshared ? `# socket ${subscribers.length}\n${DASHBOARD}` : DASHBOARD },
          {
            next: (result) => {
              if (!measuring || !result.data) return;
              receipts.push(seqOf(result.data.ticketEvents.cursor), wallClock());
              subscriber.received++;
            },
            error: () => subscriptionErrors++,
            complete: () => undefined,
          },
        );
        subscribers.push(subscriber);
      });

    /** Users whose credential the server has checked recently (its cache keeps them 60 s). */
    const verified = new Set<number>();
    let verifiedAt = Date.now();
    /** Opens connections until there are `count`, keeping the role mix. */
    const openUpTo = async (count: number) => {
      if (Date.now() - verifiedAt > 50_000) {
        verified.clear();
        verifiedAt = Date.now();
      }
      const plan: Array<[SeededUser['role'], SeededUser]> = [];
      for (let i = subscribers.length; i < count; i++) {
        const r = (i * 0.6180339887) % 1; // evenly spread roles over the connection order
        const role: SeededUser['role'] = r < MIX.scheduler ? 'scheduler' : r < MIX.scheduler + MIX.staff ? 'staff' : 'customer';
        const pool = pools[role];
        plan.push([role, pool[i % pool.length]]);
      }
      // A user's first connection costs a password check (scrypt, tens of ms on the thread pool);
      // later ones hit the credential cache. So first connections go in small batches.
      const fresh = new Set<number>();
      let i = 0;
      while (i < plan.length) {
        const batch: typeof plan = [];
        let checks = 0;
        while (i < plan.length && batch.length < CONNECT_BATCH && checks < 20) {
          const [, user] = plan[i];
          if (!verified.has(user.id) && !fresh.has(user.id)) {
            fresh.add(user.id);
            checks++;
          }
          batch.push(plan[i++]);
        }
        await Promise.all(batch.map(([role, user]) => open(role, user)));
        for (const id of fresh) verified.add(id);
        process.stdout.write(`\r  ${subscribers.length} connections open`);
      }
      process.stdout.write('\n');
      const deadline = Date.now() + 60_000;
      while ((await server.ask<ServerSample>({ type: 'sample', gc: false })).subscribers < count) {
        if (Date.now() > deadline) throw new Error(`the server did not register ${count} subscriptions in 60 s`);
        await sleep(100);
      }
    };

    // The load: status changes and replies by the people allowed to make them.
    const status = new Map<string, 'ASSIGNED' | 'IN_PROCESSING' | 'REQUEST_INFORMATION'>(seeded.tickets.map((ticket) => [ticket.id, 'ASSIGNED']));
    const busy = new Set<string>();
    let mutationErrors = 0;
    let turn = 0;
    const mutate = async (user: number, query: string, variables: Record<string, unknown>) => {
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
        const kind = turn++ % 4;
        if (kind === 0) {
          await mutate(ticket.customerId, 'mutation($id: ID!) { addReply(ticketId: $id, content: "Any news?") { id } }', { id: ticket.id });
        } else if (kind === 1) {
          await mutate(ticket.staffId, 'mutation($id: ID!) { addReply(ticketId: $id, content: "Working on it") { id } }', { id: ticket.id });
        } else {
          const processing = status.get(ticket.id) === 'IN_PROCESSING';
          const mutation = processing ? 'requestInformation' : 'startProcessing';
          if (await mutate(ticket.staffId, `mutation($id: ID!) { ${mutation}(id: $id) { id } }`, { id: ticket.id })) {
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
      'heap/conn',
      'server CPU',
      'client CPU',
      'ticket reads/event',
      'executions/event',
      'load avg',
    ];
    for (const count of options.subscribers) {
      await openUpTo(count);
      const memory = await server.ask<ServerSample>({ type: 'sample', gc: true });

      await runLoad(options.warmup);
      await sleep(1_000);
      await server.ask({ type: 'commits' });
      for (const subscriber of subscribers) subscriber.received = 0;
      receipts = [];
      measuring = true;
      const before = await server.ask<ServerSample>({ type: 'sample', gc: false });
      const started = wallClock();
      const clientCpu = process.cpuUsage();
      await runLoad(options.duration);
      // Drain: every scheduler dashboard sees every event, so they tell when delivery is done.
      const committed = new Map(await server.ask<Array<[number, number]>>({ type: 'commits' }));
      const schedulers = subscribers.filter((subscriber) => subscriber.role === 'scheduler');
      const drainDeadline = Date.now() + 15_000;
      while (Date.now() < drainDeadline && schedulers.some((subscriber) => subscriber.received < committed.size)) await sleep(50);
      await sleep(250);
      measuring = false;
      const after = await server.ask<ServerSample>({ type: 'sample', gc: false });
      const elapsedMs = wallClock() - started;
      const clientCpuUsed = process.cpuUsage(clientCpu);

      const latencies: number[] = [];
      let lastReceipt = started;
      for (let i = 0; i < receipts.length; i += 2) {
        const commit = committed.get(receipts[i]);
        if (commit === undefined) continue;
        latencies.push(receipts[i + 1] - commit);
        lastReceipt = Math.max(lastReceipt, receipts[i + 1]);
      }
      const sorted = Float64Array.from(latencies).sort();
      const incomplete = schedulers.filter((subscriber) => subscriber.received !== committed.size).length;
      const deliveryWindowS = (lastReceipt - started) / 1000;
      const fanOuts = after.eventsFannedOut - before.eventsFannedOut;
      rows.push([
        String(count),
        String(committed.size),
        String(latencies.length),
        (latencies.length / Math.max(1, committed.size)).toFixed(0),
        (latencies.length / deliveryWindowS).toFixed(0),
        percentile(sorted, 50).toFixed(1),
        percentile(sorted, 95).toFixed(1),
        percentile(sorted, 99).toFixed(1),
        (sorted[sorted.length - 1] ?? NaN).toFixed(1),
        `${kib((memory.rss - baseline.rss) / count).toFixed(1)} KiB`,
        `${kib((memory.heapUsed + memory.external - baseline.heapUsed - baseline.external) / count).toFixed(1)} KiB`,
        `${(((after.cpuMicros - before.cpuMicros) / 1000 / elapsedMs) * 100).toFixed(0)}%`,
        `${(((clientCpuUsed.user + clientCpuUsed.system) / 1000 / elapsedMs) * 100).toFixed(0)}%`,
        (fanOuts ? (after.ticketReads - before.ticketReads) / fanOuts : 0).toFixed(2),
        (fanOuts ? (after.executions - before.executions) / fanOuts : 0).toFixed(1),
        loadavg()[0].toFixed(1),
      ]);
      process.stdout.write(
        `${count} subscribers: p99 ${percentile(sorted, 99).toFixed(1)} ms over ${latencies.length} deliveries of ${committed.size} events` +
          ` (server RSS ${mib(memory.rss).toFixed(0)} MiB with ${memory.connections} sockets)` +
          (incomplete ? `; ${incomplete} scheduler dashboards missed events` : '') +
          (mutationErrors ? `; ${mutationErrors} mutations failed` : '') +
          (subscriptionErrors ? `; ${subscriptionErrors} subscription errors` : '') +
          '\n',
      );
    }

    const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
    const line = (cells: string[]) => `| ${cells.map((cell, column) => cell.padStart(widths[column])).join(' | ')} |`;
    process.stdout.write(`\n${line(header)}\n|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|\n${rows.map(line).join('\n')}\n`);
    process.stdout.write(
      '\nClient CPU: this process (all subscribers and the load generator); near 100 %, the measuring side is the bottleneck.\n' +
        `Load avg: the machine's 1-minute load average at the end of the step (${availableParallelism()} cores: above that, the server waits for CPU).\n` +
        'Latency: from the commit (the server notes the instant its bus is told, right after COMMIT) to the\n' +
        "client's receipt of the frame, both on this machine's wall clock. Memory: server RSS and JS heap+external\n" +
        'growth since before the first connection, after a full GC, divided by the open connections.\n',
    );
  } finally {
    await Promise.all(subscribers.map((subscriber) => subscriber.client.dispose()));
    await server.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    clearTimeout(stopTimer);
  }
}

main().catch((error) => {
  process.stderr.write(`live bench failed: ${error instanceof Error ? error.stack : inspect(error, { depth: 2 })}\n`);
  process.exit(1);
});
