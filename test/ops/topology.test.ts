import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { decodeEventCursor } from '../../src/modules/event/event-cursor';
import { compiledServer, provisionCast, waitFor, type Cast } from '../support/faults';
import { freePort } from '../support/ports';
import { TICKET_EVENTS, type ReceivedEvent } from '../support/live-client';
import { ADMIN, createPostgresDatabase } from '../support/server';
import { scrape, total } from '../support/scrape';

/**
 * `npm run topology` as an operator runs it (two API processes on PostgreSQL and Redis, one
 * proxy process): a subscriber connected through the proxy receives the events of mutations sent
 * to either process and through the proxy, and survives each process being killed and restarted
 * by resuming with `after` through the proxy: every event exactly once, in order.
 */
const ROOT = path.resolve(__dirname, '../..');
const enabled = Boolean(process.env.TEST_DATABASE_URL && process.env.TEST_REDIS_URL);
const METRICS_TOKEN = 'topology-metrics-token-12345';
const FILE_TICKET = 'mutation FileTicket($input: CreateTicketInput!) { createTicket(input: $input) { id } }';

interface Topology {
  readonly child: ChildProcess;
  readonly proxyUrl: string;
  readonly apiUrls: string[];
  output(): string;
  /** The pid of api-N's newest ready process. */
  pid(index: number): number | undefined;
  /** Resolves when api-N has printed its `ready` line `times` times in all. */
  readyTimes(index: number, times: number): Promise<void>;
}

async function startTopology(env: NodeJS.ProcessEnv): Promise<Topology> {
  const main = await compiledServer();
  const script = path.join(path.dirname(main), 'cli', 'topology.js');
  const [proxyPort, ...apiPorts] = await Promise.all([freePort(), freePort(), freePort()]);
  const child = spawn(process.execPath, [script], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, PROXY_PORT: String(proxyPort), API_PORTS: apiPorts.join(','), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const topology: Topology = {
    child,
    proxyUrl: `http://127.0.0.1:${proxyPort}`,
    apiUrls: apiPorts.map((port) => `http://127.0.0.1:${port}`),
    output: () => text,
    pid: (index) => {
      const matches = [...text.matchAll(new RegExp(`^api-${index + 1} ready pid=(\\d+)`, 'gm'))];
      const last = matches[matches.length - 1];
      return last ? Number(last[1]) : undefined;
    },
    readyTimes: async (index, times) => {
      await waitFor(
        `api-${index + 1} ready ${times} times\n${text}`,
        async () => [...text.matchAll(new RegExp(`^api-${index + 1} ready`, 'gm'))].length >= times,
        90_000,
        50,
      );
    },
  };
  if (process.env.TOPOLOGY_LOG) child.stdout!.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  await waitFor(`the proxy\n${text}`, async () => /^proxy ready/m.test(text), 90_000, 50);
  await topology.readyTimes(0, 1);
  await topology.readyTimes(1, 1);
  return topology;
}

/**
 * A subscriber that does what a client should: when its socket closes, it connects again through
 * the proxy and resumes after the last cursor it received.
 */
class ResumingSubscriber {
  readonly events: ReceivedEvent[] = [];
  reconnects = 0;
  private client: Client | undefined;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly credential: string,
  ) {
    this.open();
  }

  private open(): void {
    const after = this.events.length ? this.events[this.events.length - 1]!.cursor : undefined;
    const client = createClient({
      url: `${this.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { credential: this.credential },
      retryAttempts: 0,
      lazy: true,
    });
    this.client = client;
    let reopened = false;
    const reopen = () => {
      if (reopened || this.stopped) return;
      reopened = true;
      this.reconnects++;
      void client.dispose();
      setTimeout(() => this.open(), 200);
    };
    client.subscribe<{ ticketEvents: ReceivedEvent }>(
      { query: TICKET_EVENTS, variables: after ? { after } : {} },
      {
        next: (result) => {
          if (result.data?.ticketEvents) this.events.push(result.data.ticketEvents);
        },
        error: reopen,
        complete: reopen,
      },
    );
  }

  createdTicketIds(): string[] {
    return this.events.filter((event) => event.kind === 'CREATED').map((event) => event.ticket.id);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.client?.dispose();
  }
}

(enabled ? describe : describe.skip)('the scale-out topology without Docker (PostgreSQL, Redis, two API processes, a proxy)', () => {
  let topology: Topology | undefined;
  let database: { url: string; drop: () => Promise<void> };
  let subscriber: ResumingSubscriber | undefined;
  const dataDir = path.join(ROOT, '.test-state', `topology-${randomBytes(4).toString('hex')}`);

  beforeAll(async () => {
    database = await createPostgresDatabase();
    mkdirSync(dataDir, { recursive: true });
  });

  afterAll(async () => {
    await subscriber?.stop();
    if (topology && topology.child.exitCode === null) {
      const exited = new Promise((resolve) => topology!.child.once('exit', resolve));
      topology.child.kill('SIGTERM');
      await exited;
    }
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('delivers mutations from either process through the proxy, and survives each process being killed', async () => {
    const key = randomBytes(32);
    topology = await startTopology({
      DATABASE_URL: database.url,
      REDIS_URL: process.env.TEST_REDIS_URL,
      DATA_DIR: dataDir,
      CREDENTIAL_KEY: key.toString('hex'),
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_PASSWORD: ADMIN.password,
      METRICS_TOKEN,
    });
    const { proxyUrl, apiUrls } = topology;
    const cast: Cast = await provisionCast(proxyUrl, key);
    subscriber = new ResumingSubscriber(proxyUrl, cast.scheduler.credential);
    const expected: string[] = [];
    let retries = 0;
    // As a client should: a request cut by a dying process (502 from the proxy, a reset) is sent
    // again with the same Idempotency-Key, so a retried creation never files a second ticket.
    const file = async (url: string, label: string) => {
      const idempotencyKey = randomBytes(16).toString('hex');
      for (let attempt = 1; ; attempt++) {
        const response = await fetch(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Credential ${cast.customer.credential}`, 'idempotency-key': idempotencyKey },
          body: JSON.stringify({ query: FILE_TICKET, variables: { input: { content: label } } }),
        }).catch((error: Error) => error);
        if (!(response instanceof Error) && response.status === 200) {
          const body = (await response.json()) as { data?: { createTicket: { id: string } }; errors?: unknown };
          if (!body.data) throw new Error(`createTicket failed: ${JSON.stringify(body.errors)}`);
          expected.push(body.data.createTicket.id);
          return;
        }
        if (attempt === 10) throw new Error(`createTicket via ${url}: ${response instanceof Error ? response.message : response.status}`);
        retries++;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    };
    const allReceived = (what: string) =>
      waitFor(
        `${what}: ${expected.length} tickets, received ${subscriber!.createdTicketIds().length}\n${topology!.output()}`,
        async () => {
          const received = new Set(subscriber!.createdTicketIds());
          return expected.every((id) => received.has(id));
        },
        30_000,
      );

    // The subscriber is live once a first event reaches it; from then on nothing may be missed.
    await waitFor(
      'the subscriber to be live',
      async () => {
        await file(proxyUrl, 'warm-up');
        await new Promise((resolve) => setTimeout(resolve, 300));
        return subscriber!.events.length > 0;
      },
      30_000,
      0,
    );
    // Warm-up tickets filed before the subscription was live are not expected.
    const warmUp = new Set(expected.splice(0));
    for (let i = 0; i < 3; i++) {
      await file(apiUrls[0]!, `to api-1 #${i}`);
      await file(apiUrls[1]!, `to api-2 #${i}`);
      await file(proxyUrl, `through the proxy #${i}`);
    }
    await allReceived('before any restart');

    // Kill each process in turn (the subscriber's socket is on one of them), writing meanwhile.
    for (const [index, signal] of [
      [0, 'SIGKILL'],
      [1, 'SIGTERM'],
    ] as const) {
      const other = apiUrls[1 - index]!;
      process.kill(topology.pid(index)!, signal);
      for (let i = 0; i < 5; i++) {
        await file(other, `to the survivor while api-${index + 1} is down #${i}`);
        await file(proxyUrl, `through the proxy while api-${index + 1} is down #${i}`);
      }
      await topology.readyTimes(index, 2);
      await file(apiUrls[index]!, `to api-${index + 1} after its restart`);
      await allReceived(`after api-${index + 1} was stopped with ${signal} and restarted`);
    }

    // Every ticket exactly once, in the order of the log.
    const created = subscriber.createdTicketIds().filter((id) => !warmUp.has(id));
    expect(new Set(created).size).toBe(created.length);
    expect([...created].sort()).toEqual([...expected].sort());
    const seqs = subscriber.events.map((event) => decodeEventCursor(event.cursor, 'cursor'));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    // At least one reconnect happened: the socket's process was one of the two killed.
    expect(subscriber.reconnects).toBeGreaterThanOrEqual(1);
    if (process.env.TOPOLOGY_LOG) process.stderr.write(`retried requests: ${retries}, reconnects: ${subscriber.reconnects}\n`);

    // Each process is scraped by itself (the proxy does not forward /metrics): both wrote events,
    // both fanned out what either wrote.
    expect((await fetch(`${proxyUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(404);
    for (const url of apiUrls) {
      const samples = await scrape(url, METRICS_TOKEN);
      expect(total(samples, 'helpdesk_database_up')).toBe(1);
      expect(total(samples, 'helpdesk_events_written_total')).toBeGreaterThan(0);
    }
  }, 300_000);
});
