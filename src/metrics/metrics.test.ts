import { loadConfig } from '../config';
import { LiveSubscription } from '../realtime/live-subscription';
import { Role } from '../modules/user/role';
import type { TicketEventPayload } from '../modules/event/ticket-event.feed';
import { MeteredLoginThrottle } from './metered-login-throttle';
import { Metrics } from './metrics';
import { bearerMatches } from './metrics.routes';
import { ANONYMOUS_OPERATION, MAX_OPERATION_NAME_LENGTH, OperationNameLabels, OTHER_OPERATION, outcomeOf, UNRESOLVED_OPERATION } from './operation-name';
import { parseMetrics, total } from '../../test/support/scrape';

const read = async (metrics: Metrics) => parseMetrics((await metrics.scrape()).body);

describe('OperationNameLabels: client-chosen names cannot grow the label set', () => {
  it.each([
    ['GetTickets', 'GetTickets'],
    ['_private', '_private'],
    ['a', 'a'],
    [undefined, ANONYMOUS_OPERATION],
    [null, ANONYMOUS_OPERATION],
    ['', ANONYMOUS_OPERATION],
    ['has space', OTHER_OPERATION],
    ['1leadingDigit', OTHER_OPERATION],
    ['dash-ed', OTHER_OPERATION],
    ['ünïcode', OTHER_OPERATION],
    ['line\nbreak', OTHER_OPERATION],
    ['x'.repeat(MAX_OPERATION_NAME_LENGTH), 'x'.repeat(MAX_OPERATION_NAME_LENGTH)],
    ['x'.repeat(MAX_OPERATION_NAME_LENGTH + 1), OTHER_OPERATION],
    [OTHER_OPERATION, OTHER_OPERATION],
    [ANONYMOUS_OPERATION, OTHER_OPERATION],
    [UNRESOLVED_OPERATION, OTHER_OPERATION],
  ])('%j is labelled %j', (name, label) => {
    expect(new OperationNameLabels().labelFor(name)).toBe(label);
  });

  it('keeps the first `limit` distinct names; later new ones are "other", known ones stay known', () => {
    const labels = new OperationNameLabels(3);
    expect(['A', 'B', 'A', 'C'].map((name) => labels.labelFor(name))).toEqual(['A', 'B', 'A', 'C']);
    expect(labels.labelFor('D')).toBe(OTHER_OPERATION);
    expect(labels.labelFor('B')).toBe('B');
    expect(labels.size).toBe(3);
    for (let i = 0; i < 10_000; i++) labels.labelFor(`Spray${i}`);
    expect(labels.size).toBe(3);
  });

  it('refuses a negative or fractional limit', () => {
    expect(() => new OperationNameLabels(-1)).toThrow(RangeError);
    expect(() => new OperationNameLabels(1.5)).toThrow(RangeError);
  });
});

describe('outcomeOf', () => {
  it.each([
    [undefined, 'ok'],
    [[], 'ok'],
    [[{ extensions: { code: 'FORBIDDEN' } }, { extensions: { code: 'NOT_FOUND' } }], 'FORBIDDEN'],
    [[{ extensions: {} }], 'UNKNOWN'],
    [[{}], 'UNKNOWN'],
    [[{ extensions: { code: 'lower_case' } }], 'UNKNOWN'],
    [[{ extensions: { code: 42 } }], 'UNKNOWN'],
    [[{ extensions: { code: `A${'B'.repeat(40)}` } }], 'UNKNOWN'],
  ])('%j -> %s', (errors, outcome) => {
    expect(outcomeOf(errors as never)).toBe(outcome);
  });
});

describe('bearerMatches', () => {
  const token = 'a-metrics-token-0123456789';
  it.each([
    [`Bearer ${token}`, true],
    [`bearer ${token}`, true],
    [`Bearer  ${token} `, true],
    [`Bearer ${token}x`, false],
    [`Bearer ${token.slice(1)}`, false],
    [token, false],
    [`Basic ${token}`, false],
    ['Bearer ', false],
    ['', false],
    [undefined, false],
  ])('%j -> %s', (header, expected) => {
    expect(bearerMatches(header, token)).toBe(expected);
  });
});

describe('Metrics', () => {
  it('counts a database outage once per transition from up to down', async () => {
    const metrics = new Metrics();
    for (const up of [true, true, false, false, true, false, true]) metrics.databaseChecked(up);
    const samples = await read(metrics);
    expect(total(samples, 'helpdesk_database_outages_total')).toBe(2);
    expect(total(samples, 'helpdesk_database_up')).toBe(1);
    metrics.databaseChecked(false);
    expect(total(await read(metrics), 'helpdesk_database_up')).toBe(0);
  });

  it('labels HTTP methods it does not know as "other" and routes without a pattern as "unmatched"', async () => {
    const metrics = new Metrics();
    metrics.httpResponse('PROPFIND', undefined, 404, 0.001);
    metrics.httpResponse('GET', '/images/:id', 200, 0.002);
    const samples = await read(metrics);
    expect(total(samples, 'helpdesk_http_requests_total', { method: 'other', route: 'unmatched', status: '404' })).toBe(1);
    expect(total(samples, 'helpdesk_http_requests_total', { method: 'GET', route: '/images/:id', status: '200' })).toBe(1);
    expect(total(samples, 'helpdesk_http_request_duration_seconds_count')).toBe(2);
  });

  it('keeps its own registry: two instances count apart, process metrics in each', async () => {
    const first = new Metrics();
    const second = new Metrics();
    first.eventWritten();
    expect(total(await read(first), 'helpdesk_events_written_total')).toBe(1);
    const other = await read(second);
    expect(total(other, 'helpdesk_events_written_total')).toBe(0);
    expect(other.some((sample) => sample.name === 'process_cpu_user_seconds_total')).toBe(true);
    expect(other.some((sample) => sample.name === 'nodejs_eventloop_lag_seconds')).toBe(true);
  });
});

describe('LiveSubscription reports to its observer', () => {
  const viewer = { id: 1, username: 'c', roles: [Role.CUSTOMER], isAdmin: false };
  const event = (seq: number, at = Date.now()): TicketEventPayload =>
    ({ seq, cursor: String(seq), kind: 'CREATED', ticket: { id: 't', customerId: 1, staffId: null, status: 'NEW' }, reply: null, actor: {}, at }) as never;

  it('a delivery with its delay, and the undelivered events of a subscriber cut off for falling behind', async () => {
    const delivered: number[] = [];
    const dropped: number[] = [];
    const subscription = new LiveSubscription({
      viewer,
      include: { replies: false, history: false },
      after: 0,
      maxQueue: 3,
      maxHeld: 3,
      onEnd: () => undefined,
      observer: { eventWritten: () => undefined, eventDelivered: (at) => delivered.push(at), eventsDropped: (count) => dropped.push(count) },
    });
    subscription.offer(event(1, 1_000));
    expect((await subscription.next()).value?.seq).toBe(1);
    expect(delivered).toEqual([1_000]);
    for (let seq = 2; seq <= 5; seq++) subscription.offer(event(seq));
    // The fourth queued event is one too many: the three before it and it are dropped.
    expect(dropped).toEqual([4]);
    await expect(subscription.next()).rejects.toThrow(/fell more than 3 events behind/);
    expect(delivered).toHaveLength(1);
  });
});

describe('MeteredLoginThrottle', () => {
  it('reports failures by kind and throttled attempts, and throttles like LoginThrottle', async () => {
    const seen: string[] = [];
    const throttle = new MeteredLoginThrottle(
      { perUsername: { maxFailures: 2, windowMs: 60_000, lockMs: 1_000 } },
      { loginFailed: (reason) => seen.push(reason), loginThrottled: () => seen.push('throttled') },
    );
    await (await throttle.admit('alice', '10.0.0.1')).failed();
    await (await throttle.admit('alice', '10.0.0.1')).failed();
    await expect(throttle.admit('alice', '10.0.0.1')).rejects.toThrow(/Too many failed login attempts/);
    // A success and an attempt never evaluated count as no failure.
    await (await throttle.admit('bob', '10.0.0.3')).succeeded();
    await (await throttle.admit('bob', '10.0.0.3')).abandoned();
    await throttle.recordAddressFailure('10.0.0.2');
    expect(seen).toEqual(['password', 'password', 'throttled', 'credential']);
  });
});

describe('METRICS_TOKEN', () => {
  const load = (token: string | undefined) =>
    loadConfig({ CREDENTIAL_KEY: 'ab'.repeat(32), DATA_DIR: '/nonexistent', ...(token === undefined ? {} : { METRICS_TOKEN: token }) });

  it.each([undefined, ''])('unset (%j): metrics off', (token) => {
    expect(load(token).metricsToken).toBeUndefined();
  });

  it.each(['0123456789abcdef', 'x'.repeat(512), 'A-b_c.d~e!f@g#h$i%^&*()'])('accepts %s', (token) => {
    expect(load(token).metricsToken).toBe(token);
  });

  it.each(['short', '0123456789abcde', 'x'.repeat(513), 'has a space in it 123', 'tab\there-0123456789', 'ünïcödé-0123456789'])(
    'refuses %j naming the setting',
    (token) => {
      expect(() => load(token)).toThrow(/^METRICS_TOKEN must be 16 to 512 visible ASCII characters/);
    },
  );
});
