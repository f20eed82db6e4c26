import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LiveObserver, LoginObserver } from './observers';
import { OperationNameLabels, outcomeOf, UNRESOLVED_OPERATION } from './operation-name';

/** What the process-wide gauges read at scrape time (set by `createApp` once the parts exist). */
export interface MetricsSources {
  /** Open graphql-ws sockets. */
  connections?(): number;
  /** Live subscriptions, and events this process read from the log and fanned out since start. */
  hub?(): { subscribers: number; eventsFannedOut: number } | undefined;
  /** The database pool: connections in use, idle, and acquisitions waiting for one. */
  pool?(): { used: number; free: number; waiting: number } | undefined;
}

/** Latency buckets in seconds: 5 ms to 10 s. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Commit-to-delivery buckets in seconds: 5 ms (same process) to 30 s (a lost note waits for the 2 s poll). */
const DELIVERY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * The metrics of one app, on a registry of its own (tests start several apps in one process, and
 * two apps must not share counters). Every label is bounded: route patterns (never the raw URL),
 * HTTP methods and statuses, operation names through {@link OperationNameLabels}, error codes the
 * server defines. No id, username or address is ever a label.
 */
export class Metrics implements LiveObserver, LoginObserver {
  readonly registry = new Registry();
  private readonly operationNames: OperationNameLabels;
  private sources: MetricsSources = {};

  private readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  private readonly httpDuration: Histogram<'method' | 'route'>;
  private readonly graphqlOperations: Counter<'operation' | 'type' | 'outcome'>;
  private readonly graphqlDuration: Histogram<'operation' | 'type'>;
  private readonly eventsWritten: Counter;
  private readonly eventsDelivered: Counter;
  private readonly eventsDroppedTotal: Counter;
  private readonly deliveryDelay: Histogram;
  private readonly loginFailures: Counter<'reason'>;
  private readonly loginThrottledTotal: Counter;
  private readonly rateLimitedTotal: Counter<'transport'>;
  private readonly databaseUp: Gauge;
  private readonly databaseOutages: Counter;
  private databaseIsUp: boolean | undefined;

  constructor(options: { operationNameLimit?: number } = {}) {
    this.operationNames = new OperationNameLabels(options.operationNameLimit);
    collectDefaultMetrics({ register: this.registry });
    const sources = (): MetricsSources => this.sources;
    const registers = [this.registry];
    const counter = <Label extends string>(name: string, help: string, labelNames: Label[] = []) => new Counter({ name, help, labelNames, registers });
    const histogram = <Label extends string>(name: string, help: string, buckets: number[], labelNames: Label[] = []) =>
      new Histogram({ name, help, labelNames, buckets, registers });
    /** With `collect`, a gauge read at scrape time: `collect` sets it. */
    const gauge = <Label extends string>(name: string, help: string, collect?: (gauge: Gauge<Label>) => void, labelNames: Label[] = []) =>
      new Gauge<Label>({
        name,
        help,
        labelNames,
        registers,
        ...(collect && {
          collect(this: Gauge<Label>) {
            collect(this);
          },
        }),
      });

    this.httpRequests = counter(
      'helpdesk_http_requests_total',
      'HTTP requests answered, by method, route pattern ("unmatched" for 404s without a route) and status',
      ['method', 'route', 'status'],
    );
    this.httpDuration = histogram(
      'helpdesk_http_request_duration_seconds',
      'Time from receiving an HTTP request to its response, by method and route pattern',
      LATENCY_BUCKETS,
      ['method', 'route'],
    );
    this.graphqlOperations = counter(
      'helpdesk_graphql_operations_total',
      'GraphQL operations over HTTP, by operation name (bounded: see docs/operations.md), type and outcome ("ok" or the first error code)',
      ['operation', 'type', 'outcome'],
    );
    this.graphqlDuration = histogram(
      'helpdesk_graphql_operation_duration_seconds',
      'Time to answer a GraphQL operation over HTTP, by operation name and type',
      LATENCY_BUCKETS,
      ['operation', 'type'],
    );
    gauge('helpdesk_websocket_connections', 'Open graphql-ws sockets', (it) => it.set(sources().connections?.() ?? 0));
    gauge('helpdesk_subscriptions_active', 'Live ticketEvents subscriptions served by this process', (it) => it.set(sources().hub?.()?.subscribers ?? 0));
    this.eventsWritten = counter('helpdesk_events_written_total', 'Ticket events committed to the event log by this process');
    let fannedOutSeen = 0;
    new Counter({
      name: 'helpdesk_events_fanned_out_total',
      help: 'Ticket events (from any process) this process read from the log and offered to its subscribers',
      registers,
      collect() {
        const now = sources().hub?.()?.eventsFannedOut ?? fannedOutSeen;
        if (now > fannedOutSeen) this.inc(now - fannedOutSeen);
        fannedOutSeen = now;
      },
    });
    this.eventsDelivered = counter('helpdesk_events_delivered_total', 'Ticket events handed to a subscriber (one per subscriber that may see the event)');
    this.eventsDroppedTotal = counter(
      'helpdesk_events_dropped_total',
      'Undelivered ticket events discarded when a subscriber fell too far behind and was cut off (it resumes with its cursor)',
    );
    this.deliveryDelay = histogram('helpdesk_event_delivery_delay_seconds', "Time from an event's commit to its hand-over to a subscriber", DELIVERY_BUCKETS);
    this.loginFailures = counter(
      'helpdesk_login_failures_total',
      'Failed sign-ins: "password" (wrong username or password), "credential" (a credential that does not decode)',
      ['reason'],
    );
    this.loginThrottledTotal = counter('helpdesk_login_throttled_total', 'Sign-in attempts refused by the failed-login throttle');
    this.rateLimitedTotal = counter(
      'helpdesk_rate_limited_total',
      'Requests refused (429) because their client had spent its budget (RATE_LIMIT_POINTS), by transport: graphql, legacy, websocket, stream',
      ['transport'],
    );
    gauge(
      'helpdesk_db_pool_connections',
      'Database pool connections by state (used, free)',
      (it) => {
        const stats = sources().pool?.();
        it.set({ state: 'used' }, stats?.used ?? 0);
        it.set({ state: 'free' }, stats?.free ?? 0);
      },
      ['state'],
    );
    gauge('helpdesk_db_pool_waiting', 'Queries waiting for a database connection', (it) => it.set(sources().pool?.()?.waiting ?? 0));
    this.databaseUp = gauge('helpdesk_database_up', 'Whether the last database check (every few seconds) succeeded: 1 up, 0 down');
    this.databaseOutages = counter('helpdesk_database_outages_total', 'Times the database check went from succeeding to failing');
  }

  /** Connects the scrape-time gauges to the app's parts. */
  watch(sources: MetricsSources): void {
    this.sources = { ...this.sources, ...sources };
  }

  httpResponse(method: string, route: string | undefined, status: number, seconds: number): void {
    const methodLabel = HTTP_METHODS.has(method) ? method : 'other';
    const routeLabel = route ?? 'unmatched';
    this.httpRequests.inc({ method: methodLabel, route: routeLabel, status: String(status) });
    this.httpDuration.observe({ method: methodLabel, route: routeLabel }, seconds);
  }

  graphqlOperation(
    name: string | null | undefined,
    type: string | undefined,
    errors: ReadonlyArray<{ extensions?: Record<string, unknown> }> | undefined,
    seconds: number,
  ): void {
    // Only names of operations that resolved earn a label: junk documents take no slot.
    const operation = type === undefined ? UNRESOLVED_OPERATION : this.operationNames.labelFor(name);
    const typeLabel = type === 'query' || type === 'mutation' || type === 'subscription' ? type : 'unknown';
    this.graphqlOperations.inc({ operation, type: typeLabel, outcome: outcomeOf(errors) });
    this.graphqlDuration.observe({ operation, type: typeLabel }, seconds);
  }

  eventWritten(): void {
    this.eventsWritten.inc();
  }

  eventDelivered(at: number): void {
    this.eventsDelivered.inc();
    this.deliveryDelay.observe(Math.max(0, Date.now() - at) / 1000);
  }

  eventsDropped(count: number): void {
    if (count > 0) this.eventsDroppedTotal.inc(count);
  }

  loginFailed(reason: 'password' | 'credential'): void {
    this.loginFailures.inc({ reason });
  }

  loginThrottled(): void {
    this.loginThrottledTotal.inc();
  }

  /** A request refused because its client's budget was spent (ratelimit/rate-limiter.ts). */
  rateLimited(transport: 'graphql' | 'legacy' | 'websocket' | 'stream'): void {
    this.rateLimitedTotal.inc({ transport });
  }

  /** The result of a database check; a change from up to down counts an outage. */
  databaseChecked(up: boolean): void {
    if (this.databaseIsUp === true && !up) this.databaseOutages.inc();
    this.databaseIsUp = up;
    this.databaseUp.set(up ? 1 : 0);
  }

  /** The Prometheus text exposition. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
