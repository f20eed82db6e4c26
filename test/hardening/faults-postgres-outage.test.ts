import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Client } from 'pg';
import { connect, EventStream, type Closed, type LiveClient } from '../support/live-client';
import { gqlOk } from '../support/http';
import { pgClusterUnavailableReason, startPgCluster, type PgCluster, type StopMode } from '../support/pg-cluster';
import { provisionCast, readiness, sleep, spawnServer, waitFor, type Cast, type ServerProcess } from '../support/faults';
import { scratchDir } from '../support/scratch';

/**
 * PostgreSQL stops and comes back while the compiled server is under load (docs/contract.md hardening,
 * "Faults"). The database is a private cluster of this suite (test/support/pg-cluster.ts): the
 * shared server on 5432 is never touched. Twice, with `pg_ctl stop -m fast` (clients are told
 * the server shuts down) and `-m immediate` (they are cut off, the server recovers from WAL):
 *
 * - the server process stays up, `/readyz` says 503 while the database is away and 200 after;
 * - every request during the outage is answered: 503 `{code: 503, message}` on the legacy
 *   endpoint, SERVICE_UNAVAILABLE in GraphQL; never a 500, never a stack, never a reset socket;
 * - graphql-ws subscribers keep their sockets, and events committed after the return reach them;
 * - everything works again without a restart.
 */

const skipReason = pgClusterUnavailableReason();
if (skipReason) console.warn(`faults-postgres-outage: skipped, ${skipReason}`);

type Outcome = 'ok' | 'unavailable' | 'bad';
/**
 * `up`: the database runs (and, after an outage, /readyz has said 200 again); `stopping`: pg_ctl
 * stop is running; `down`: stopped; `returning`: pg_ctl start is running or /readyz not yet 200.
 */
type Phase = 'up' | 'stopping' | 'down' | 'returning';

interface Sample {
  /** The phase when the request was sent and when its answer arrived. */
  readonly phase: Phase;
  readonly endPhase: Phase;
  readonly op: string;
  readonly outcome: Outcome;
  readonly detail?: string;
  /** How long the answer took. */
  readonly ms: number;
}

/** Anything that looks like a leaked stack trace or internal detail. */
const LEAK = /\bat [\w.<>]+ \(|\.ts:\d+|\.js:\d+|stacktrace|"stack"/i;

async function classifyGraphQL(response: Response): Promise<{ outcome: Outcome; detail?: string }> {
  const text = await response.text();
  if (LEAK.test(text)) return { outcome: 'bad', detail: `leak ${response.status} ${text.slice(0, 300)}` };
  let body: { data?: unknown; errors?: Array<{ extensions?: { code?: string } }> };
  try {
    body = JSON.parse(text);
  } catch {
    return { outcome: 'bad', detail: `not JSON ${response.status} ${text.slice(0, 300)}` };
  }
  if (response.status >= 500 && response.status !== 503) return { outcome: 'bad', detail: `${response.status} ${text.slice(0, 300)}` };
  if (!body.errors?.length) return response.status === 200 ? { outcome: 'ok' } : { outcome: 'bad', detail: `${response.status} ${text}` };
  const codes = new Set(body.errors.map((error) => error.extensions?.code));
  if (codes.size === 1 && codes.has('SERVICE_UNAVAILABLE')) return { outcome: 'unavailable' };
  return { outcome: 'bad', detail: `${response.status} ${text.slice(0, 300)}` };
}

async function classifyLegacy(response: Response): Promise<{ outcome: Outcome; detail?: string }> {
  const text = await response.text();
  if (LEAK.test(text)) return { outcome: 'bad', detail: `leak ${response.status} ${text.slice(0, 300)}` };
  if (response.status === 200) return { outcome: 'ok' };
  if (response.status === 503) {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (body.code === 503 && typeof body.message === 'string' && Object.keys(body).length === 2) return { outcome: 'unavailable' };
  }
  return { outcome: 'bad', detail: `${response.status} ${text.slice(0, 300)}` };
}

/** LISTEN sessions of the servers (PostgresEventBus names its connection `helpdesk-listener`). */
async function listeners(cluster: PgCluster): Promise<number> {
  const client = new Client({ connectionString: cluster.url() });
  await client.connect();
  try {
    const { rows } = await client.query<{ count: string }>(
      "select count(*) from pg_stat_activity where application_name = 'helpdesk-listener' and query ilike 'listen %'",
    );
    return Number(rows[0].count);
  } finally {
    await client.end();
  }
}

(skipReason ? describe.skip : describe)(`PostgreSQL stops and comes back under load${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let cluster: PgCluster;
  let server: ServerProcess;
  /** A second process on the same database: its commits reach `server` only over LISTEN/NOTIFY (or the poll). */
  let other: ServerProcess;
  let cast: Cast;
  let dataDir: string;
  const clients: LiveClient[] = [];

  beforeAll(async () => {
    cluster = await startPgCluster();
    dataDir = scratchDir('helpdesk-outage-');
    const key = randomBytes(32);
    [server, other] = await Promise.all([
      spawnServer({ databaseUrl: cluster.url(), dataDir, credentialKey: key }),
      spawnServer({ databaseUrl: cluster.url(), dataDir, credentialKey: key }),
    ]);
    cast = await provisionCast(server.url, key);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await Promise.all([server?.stop('SIGTERM'), other?.stop('SIGTERM')]);
    await cluster?.destroy();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('stays up, answers 503 while the database is away, keeps subscribers and recovers without a restart', async () => {
    const { customer, scheduler, staff } = cast;
    const target = (await gqlOk(server, customer, 'mutation { createTicket(input: { content: "the outage ticket" }) { id } }')).createTicket.id as string;

    // Subscribers: a scheduler sees every ticket, the customer their own.
    const watchers = [scheduler, customer].map((user) => {
      const client = connect(server, user);
      clients.push(client);
      let closed: Closed | undefined;
      void client.closed.then((value) => (closed = value));
      return { client, stream: new EventStream(client.client), closedWith: () => closed };
    });
    // Subscribed once an event reaches both (the subscribe message travels on its own).
    await waitFor('both subscribers', async () => {
      await gqlOk(server, customer, 'mutation { createTicket(input: { content: "primer" }) { id } }');
      await sleep(100);
      return watchers.every(({ stream }) => stream.events.length > 0);
    });

    // The load: workers looping over writes and reads through both transports until told to stop.
    const samples: Sample[] = [];
    let phase: Phase = 'up';
    let loading = true;
    const operations: Array<[string, () => Promise<{ outcome: Outcome; detail?: string }>]> = [
      [
        'graphql createTicket',
        async () =>
          classifyGraphQL(
            await fetch(`${server.url}/graphql`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Credential ${customer.credential}` },
              body: JSON.stringify({ query: 'mutation { createTicket(input: { content: "under load" }) { id status } }' }),
            }),
          ),
      ],
      [
        'graphql tickets',
        async () =>
          classifyGraphQL(
            await fetch(`${server.url}/graphql`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Credential ${scheduler.credential}` },
              body: JSON.stringify({ query: '{ tickets(first: 5) { edges { node { id status replies { id } history { status } } } } }' }),
            }),
          ),
      ],
      [
        'graphql addReply',
        async () =>
          classifyGraphQL(
            await fetch(`${server.url}/graphql`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Credential ${customer.credential}` },
              body: JSON.stringify({ query: 'mutation($id: ID!) { addReply(ticketId: $id, content: "still there?") { id } }', variables: { id: target } }),
            }),
          ),
      ],
      [
        'legacy create-ticket',
        async () =>
          classifyLegacy(
            await fetch(`${server.url}/api/ticket`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ action: 'create-ticket', credential: customer.credential, content: 'legacy under load' }),
            }),
          ),
      ],
      [
        'legacy ticket-detail',
        async () =>
          classifyLegacy(
            await fetch(`${server.url}/api/ticket`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ action: 'ticket-detail', credential: customer.credential, uuid: target }),
            }),
          ),
      ],
    ];
    const worker = async (index: number) => {
      for (let i = index; loading; i++) {
        const [op, run] = operations[i % operations.length];
        const at = phase;
        const sent = Date.now();
        try {
          const { outcome, detail } = await run();
          samples.push({ phase: at, endPhase: phase, op, outcome, detail, ms: Date.now() - sent });
        } catch (error) {
          // The socket was reset or refused: the server did not answer at all.
          samples.push({ phase: at, endPhase: phase, op, outcome: 'bad', detail: `no answer: ${(error as Error).message}`, ms: Date.now() - sent });
        }
      }
    };
    const workers = Array.from({ length: 6 }, (_, index) => worker(index));

    const figures: Array<Record<string, unknown>> = [];
    try {
      await sleep(1_000);
      for (const mode of ['fast', 'immediate'] satisfies StopMode[]) {
        // --- the database goes away under load
        phase = 'stopping';
        await cluster.stop(mode);
        phase = 'down';
        const downSince = Date.now();
        const readyzDown: number[] = [];
        while (Date.now() - downSince < 2_500) {
          readyzDown.push(await readiness(server.url));
          await sleep(100);
        }
        expect(server.exit).toBeUndefined();
        expect(new Set(readyzDown)).toEqual(new Set([503]));

        // --- and comes back
        phase = 'returning';
        await cluster.start();
        const returned = Date.now();
        const readyAfterMs = await waitFor('/readyz 200', async () => (await readiness(server.url)) === 200, 20_000, 10);
        phase = 'up';

        // Both processes listen again: one LISTEN session each.
        const listenersBackMs = await waitFor('both listeners back', async () => (await listeners(cluster)) === 2, 15_000, 20);

        // Writes committed after the return, through the other process, reach both subscribers on
        // their old sockets.
        const firstWrite = Date.now();
        const fresh = (await gqlOk(other, customer, `mutation { createTicket(input: { content: "after ${mode}" }) { id } }`)).createTicket.id;
        await gqlOk(other, scheduler, 'mutation($id: ID!, $staff: ID!) { assignTicket(id: $id, staffId: $staff) { id } }', {
          id: fresh,
          staff: String(staff.id),
        });
        const written = Date.now();
        await Promise.all(
          watchers.map(({ stream }) =>
            stream.until((s) => s.events.filter((event) => event.ticket.id === fresh).length === 2, `the events of the ticket written after ${mode}`, 15_000),
          ),
        );
        const eventLatencyMs = Date.now() - written;
        await sleep(1_000);
        figures.push({
          mode,
          readyAfterMs,
          listenersBackMs,
          firstWriteAfterMs: firstWrite - returned,
          eventLatencyMs,
        });
      }
    } finally {
      loading = false;
      await Promise.all(workers);
    }

    const count = (predicate: (sample: Sample) => boolean) => samples.filter(predicate).length;
    const bad = samples.filter((sample) => sample.outcome === 'bad');
    const summary = {
      requests: samples.length,
      ok: count((s) => s.outcome === 'ok'),
      unavailable: count((s) => s.outcome === 'unavailable'),
      bad: bad.length,
      whileDown: count((s) => s.phase === 'down' && s.endPhase === 'down'),
      slowestWhileDownMs: Math.max(...samples.filter((s) => s.phase === 'down').map((s) => s.ms)),
      figures,
    };
    console.log(`faults-postgres-outage: ${JSON.stringify(summary)}`);

    // Never a 500, an internal error, a leaked stack or an unanswered request ...
    expect(bad.slice(0, 5)).toEqual([]);
    // ... requests sent and answered while the database was away were refused with 503 ...
    const down = samples.filter((s) => s.phase === 'down' && s.endPhase === 'down');
    expect(down.length).toBeGreaterThan(50);
    expect(down.filter((s) => s.outcome !== 'unavailable')).toEqual([]);
    // Refused promptly: no request waits for a database that is not there.
    expect(summary.slowestWhileDownMs).toBeLessThan(2_000);
    // ... and while it ran (before, between and after the outages) every one was served.
    const up = samples.filter((s) => s.phase === 'up' && s.endPhase === 'up');
    expect(up.length).toBeGreaterThan(50);
    expect(up.filter((s) => s.outcome !== 'ok')).toEqual([]);

    // The processes never went down, and the subscribers never lost their sockets or saw an error.
    expect(server.exit).toBeUndefined();
    expect(other.exit).toBeUndefined();
    for (const { stream, closedWith } of watchers) {
      expect(closedWith()).toBeUndefined();
      expect(stream.errors).toEqual([]);
      expect(stream.completed).toBe(false);
    }
    expect(server.output()).not.toMatch(/uncaught|unhandled rejection/i);
  }, 120_000);
});
