import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { createApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { hashPassword } from '../../src/modules/auth/password';
import { TicketOperation } from '../../src/modules/ticket/ticket.rules';
import { Role } from '../../src/modules/user/role';
import { sharedExecutionStats } from '../../src/realtime/shared-execution';
import type { Viewer } from '../../src/modules/user/viewer';
import { WindowProfiler } from './live-profile';
import { wallClock, type Command, type Envelope, type Ready, type SeedRequest, type SeedResult, type SeededTicket, type SeededUser } from './live-ipc';

/**
 * The product under test, alone in its process: `createApp` from the environment (DATA_DIR or
 * DATABASE_URL, CREDENTIAL_KEY, REDIS_URL), logger off. Instrumented for the benchmark only:
 * the bus's after-commit announcement is wrapped to note each event's commit instant, which
 * the benchmark subtracts from the instant a client receives it.
 */

const BENCH_PASSWORD = 'live bench password';

/** This process's file-descriptor limit (soft: Node raises it to the hard limit at start). */
function fdLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((row) => row.startsWith('Max open files'));
  const soft = line ? Number(line.split(/\s{2,}/)[1]) : NaN;
  return Number.isFinite(soft) ? soft : Infinity;
}

const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc;
  collect?.();
  collect?.();
};

async function seed(app: App, request: SeedRequest): Promise<SeedResult> {
  const tag = randomBytes(3).toString('hex');
  // At the server's own parameters (the bench sets PASSWORD_SCRYPT_LOG2_N): no rehash at sign-in.
  const hash = await hashPassword(BENCH_PASSWORD, app.services.auth.hasher.params);
  const connection = app.database.orm.em.fork().getConnection();
  const insert = async (role: SeededUser['role'], count: number): Promise<SeededUser[]> => {
    const rows = await connection.execute<Array<{ id: number; username: string }>>(
      `insert into users (username, password_hash, roles)
       select 'live-' || ? || '-' || ? || '-' || i, ?, array[?]::text[] from generate_series(1, ?) as i
       returning id, username`,
      [tag, role, hash, role.toUpperCase(), count],
      'all',
    );
    return rows.map((row: { id: number; username: string }) => ({ id: Number(row.id), username: row.username, role }));
  };
  const customers = await insert('customer', request.customers);
  const staff = await insert('staff', request.staff);
  const schedulers = await insert('scheduler', request.schedulers);
  const viewer = (user: SeededUser, role: Role): Viewer => ({ id: user.id, username: user.username, roles: [role], isAdmin: false });

  // Tickets go through the services like any other: filed, then assigned round-robin.
  const tickets: SeededTicket[] = [];
  let next = 0;
  for (const customer of customers) {
    for (let n = 0; n < request.ticketsPerCustomer; n++) {
      const staffMember = staff[next++ % staff.length];
      const id = await app.services.tickets.create(app.database.orm.em.fork(), viewer(customer, Role.CUSTOMER), {
        content: `Ticket ${n} of ${customer.username}`,
      });
      await app.services.tickets.transition(app.database.orm.em.fork(), viewer(schedulers[0], Role.SCHEDULER), id, TicketOperation.ASSIGN, {
        staffId: staffMember.id,
      });
      tickets.push({ id, customerId: customer.id, staffId: staffMember.id });
    }
  }
  return { password: BENCH_PASSWORD, users: [...customers, ...staff, ...schedulers], tickets };
}

async function main(): Promise<void> {
  // The bench opens up to ~30 sockets per user (10,000 over 370 users): above the default cap.
  // It measures throughput, not request budgets: those are off unless the environment sets them.
  const config = loadConfig({ WS_MAX_SOCKETS_PER_USER: '1000', RATE_LIMIT_POINTS: '0', ...process.env });
  const app = await createApp(config, { logger: false });
  const url = await app.listen();

  const commits = new Map<number, number>();
  const bus = app.live.bus;
  const announce = bus.announceCommitted.bind(bus);
  bus.announceCommitted = (note) => {
    commits.set(note.seq, wallClock());
    announce(note);
  };

  const profiler = new WindowProfiler();
  const handle = async (command: Command): Promise<unknown> => {
    switch (command.type) {
      case 'seed':
        return seed(app, command.request);
      case 'sample': {
        if (command.gc) gc();
        const memory = process.memoryUsage();
        const hub = app.live.hub!.stats();
        const cpu = process.cpuUsage();
        return {
          rss: memory.rss,
          heapUsed: memory.heapUsed,
          external: memory.external,
          connections: app.live.sockets?.connections ?? 0,
          subscribers: hub.subscribers,
          logReads: hub.logReads,
          ticketReads: hub.ticketReads,
          eventsFannedOut: hub.eventsFannedOut,
          executions: sharedExecutionStats.executed,
          cpuMicros: cpu.user + cpu.system,
          fds: readdirSync('/proc/self/fd').length,
          fdLimit: fdLimit(),
          pid: process.pid,
        };
      }
      case 'commits': {
        const entries = [...commits.entries()];
        commits.clear();
        return entries;
      }
      case 'snapshot':
        gc();
        return writeHeapSnapshot(path.join(command.dir, `live-server-${process.pid}-${Date.now()}.heapsnapshot`));
      case 'profile':
        return command.file ? profiler.stop(command.file) : profiler.start();
      case 'stop':
        await app.close();
        return null;
    }
  };

  process.on('message', (envelope: Envelope) => {
    handle(envelope.command).then(
      (result) => {
        process.send?.({ id: envelope.id, result });
        if (envelope.command.type === 'stop') setImmediate(() => process.exit(0));
      },
      (error: unknown) => process.send?.({ id: envelope.id, error: error instanceof Error ? error.stack : String(error) }),
    );
  });
  // The benchmark went away: never outlive it.
  process.on('disconnect', () => {
    app.close().finally(() => process.exit(0));
  });
  const ready: Ready = {
    type: 'ready',
    url,
    database: config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : 'embedded PGlite',
    bus: app.live.bus.kind,
  };
  process.send?.(ready);
}

main().catch((error) => {
  process.stderr.write(`live bench server failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
