import { DATABASES, startServer, type TestServer, type TestUser } from '../support/server';
import {
  attempt,
  defaultActors,
  errorCode,
  snapshot,
  STATUS_NAMES,
  ticketIn,
  type GraphQLResponse,
  type OperationName,
  type StatusName,
} from '../support/http';
import { SPEC_FORBIDDEN_MESSAGE } from '../support/spec-tables';

/**
 * Every mutation by every wrong viewer is FORBIDDEN with the seed's message, whatever the status;
 * every mutation by a right viewer from a status it may not leave is CONFLICT naming both
 * statuses; and no refusal changes anything. The expectations are written out from the contract's tables
 * here, not derived from ticket.rules.ts, so the rule table is checked against the contract.
 *
 * One ticket per status (filed by `customer`, assigned to `staff` on the way, with one reply by
 * `customer`) is shared by the whole file: refusals leave it as it was, which the last test checks.
 */

type ViewerName = 'owner' | 'otherCustomer' | 'assignee' | 'otherStaff' | 'scheduler' | 'multi';

const VIEWER_USER: Record<ViewerName, keyof TestServer['users']> = {
  owner: 'customer',
  otherCustomer: 'otherCustomer',
  assignee: 'staff',
  otherStaff: 'otherStaff',
  scheduler: 'scheduler',
  multi: 'multi', // customer + staff, but neither the owner nor the assignee of these tickets
};

/** docs/contract.md "Transitions" and "Other operations": who may, and from where. */
const RULES: Record<OperationName, { who: ViewerName[]; from: StatusName[]; to?: StatusName }> = {
  assign: { who: ['scheduler'], from: ['NEW', 'REOPEN', 'ASSIGNED', 'IN_PROCESSING', 'REQUEST_INFORMATION'], to: 'ASSIGNED' },
  startProcessing: { who: ['assignee'], from: ['ASSIGNED', 'REQUEST_INFORMATION'], to: 'IN_PROCESSING' },
  requestInformation: { who: ['assignee', 'scheduler'], from: ['ASSIGNED', 'IN_PROCESSING'], to: 'REQUEST_INFORMATION' },
  fix: { who: ['assignee'], from: ['ASSIGNED', 'IN_PROCESSING'], to: 'FIXED' },
  close: { who: ['scheduler'], from: ['FIXED'], to: 'CLOSED' },
  reopen: { who: ['owner'], from: ['FIXED', 'CLOSED'], to: 'REOPEN' },
  cancel: { who: ['owner', 'scheduler'], from: ['NEW', 'ASSIGNED', 'REOPEN', 'REQUEST_INFORMATION', 'IN_PROCESSING'], to: 'CANCEL' },
  edit: { who: ['owner'], from: ['NEW', 'REOPEN', 'REQUEST_INFORMATION'] },
  // Anyone who can see it: the owner, the scheduler, and the assignee once it is assigned.
  reply: { who: ['owner', 'scheduler', 'assignee'], from: ['NEW', 'ASSIGNED', 'IN_PROCESSING', 'REQUEST_INFORMATION', 'FIXED', 'REOPEN'] },
  // Its author only, in any status (docs/contract.md names no status rule for deleting a reply).
  deleteReply: { who: ['owner'], from: [...STATUS_NAMES] },
};

const OPERATIONS = Object.keys(RULES) as OperationName[];
const VIEWERS = Object.keys(VIEWER_USER) as ViewerName[];

const FORBIDDEN_CASES = OPERATIONS.flatMap((operation) =>
  VIEWERS.filter((viewer) => !RULES[operation].who.includes(viewer)).map((viewer) => [operation, viewer] as const),
);

/**
 * Right viewer, wrong status. The assigned staff member of a NEW ticket is nobody (assignment is
 * what makes it leave NEW), so staff-only operations on NEW are FORBIDDEN, tested below.
 */
const CONFLICT_CASES = OPERATIONS.filter((operation) => operation !== 'deleteReply').flatMap((operation) =>
  RULES[operation].who.flatMap((viewer) =>
    STATUS_NAMES.filter((status) => !RULES[operation].from.includes(status))
      .filter((status) => !(viewer === 'assignee' && status === 'NEW'))
      .map((status) => [operation, viewer, status] as const),
  ),
);

/** A status named in a message: the enum name or the seed's spelling ("Request Information"). */
const statusPattern = (status: StatusName): string => status.split('_').join('[ _]');

const outcome = (result: GraphQLResponse) => ({ code: errorCode(result) ?? 'OK', message: result.errors?.[0]?.message });

describe.each(DATABASES)('authorization matrix over GraphQL (%s)', (kind) => {
  let server: TestServer;
  let tickets: Record<StatusName, { id: string; replyId?: string }>;
  let before: Record<string, Record<string, unknown>>;
  const user = (viewer: ViewerName): TestUser => server.users[VIEWER_USER[viewer]];
  const target = (status: StatusName) => ({ ...tickets[status], staffId: server.users.otherStaff.id });

  beforeAll(async () => {
    server = await startServer(kind);
    const actors = defaultActors(server);
    const made = await Promise.all(STATUS_NAMES.map((status) => ticketIn(server, status, actors, { reply: true })));
    tickets = Object.fromEntries(STATUS_NAMES.map((status, i) => [status, made[i]])) as typeof tickets;
    before = Object.fromEntries(
      await Promise.all(STATUS_NAMES.map(async (status) => [status, await snapshot(server, server.users.scheduler, tickets[status].id)])),
    );
  });
  afterAll(() => server?.close());

  it('has one ticket in every status to refuse things on', () => {
    expect(Object.fromEntries(STATUS_NAMES.map((status) => [status, before[status].status]))).toEqual(
      Object.fromEntries(STATUS_NAMES.map((status) => [status, status])),
    );
  });

  it.each(FORBIDDEN_CASES)('%s by %s is FORBIDDEN in every status', async (operation, viewer) => {
    const results = await Promise.all(STATUS_NAMES.map((status) => attempt(server, user(viewer), operation, target(status))));
    const expected = { code: 'FORBIDDEN', message: SPEC_FORBIDDEN_MESSAGE[operation] };
    expect(Object.fromEntries(STATUS_NAMES.map((status, i) => [status, outcome(results[i])]))).toEqual(
      Object.fromEntries(STATUS_NAMES.map((status) => [status, expected])),
    );
  });

  it.each([['startProcessing'], ['fix'], ['requestInformation'], ['reply']] as const)(
    '%s by a staff member on a NEW ticket (nobody is assigned yet) is FORBIDDEN',
    async (operation) => {
      const result = await attempt(server, user('assignee'), operation, target('NEW'));
      expect(outcome(result)).toEqual({ code: 'FORBIDDEN', message: SPEC_FORBIDDEN_MESSAGE[operation] });
    },
  );

  it.each(CONFLICT_CASES)('%s by %s from %s is CONFLICT naming both statuses', async (operation, viewer, status) => {
    const result = await attempt(server, user(viewer), operation, target(status));
    expect(errorCode(result)).toBe('CONFLICT');
    const message = result.errors![0].message;
    expect(message).toMatch(new RegExp(statusPattern(status)));
    const to = RULES[operation].to;
    if (to) expect(message).toMatch(new RegExp(`${statusPattern(status)}.*${statusPattern(to)}`));
  });

  it('names the statuses exactly as the workflow test expects', async () => {
    const result = await attempt(server, user('scheduler'), 'close', target('IN_PROCESSING'));
    expect(outcome(result)).toEqual({ code: 'CONFLICT', message: 'Cannot change ticket status from IN_PROCESSING to CLOSED' });
  });

  it('answers a refusal over HTTP 200 with null data and no stack trace', async () => {
    const result = await attempt(server, user('otherCustomer'), 'cancel', target('NEW'));
    expect(result.status).toBe(200);
    expect(result.data).toBeNull();
    expect(JSON.stringify(result.errors)).not.toMatch(/stacktrace|at .*\.ts:\d+/i);
  });

  it.each([['CLOSED'], ['CANCEL']] as const)('the author deletes their reply on a %s ticket (docs/contract.md sets no status rule for it)', async (status) => {
    const { id, replyId } = await ticketIn(server, status, defaultActors(server), { reply: true });
    const result = await attempt(server, user('owner'), 'deleteReply', { id, replyId });
    expect(result.errors).toBeUndefined();
    expect(result.data?.deleteReply).toBe(replyId);
    expect((await snapshot(server, server.users.scheduler, id)).replies).toEqual([]);
  });

  it('racing transitions on one ticket: exactly one wins, the others are CONFLICT, history has one entry', async () => {
    const actors = defaultActors(server);
    const { id } = await ticketIn(server, 'ASSIGNED', actors);
    // Whichever lands first, every other one is then from CANCEL or FIXED: not allowed.
    const racers = [
      ...[1, 2, 3].map(() => attempt(server, user('owner'), 'cancel', { id })),
      ...[1, 2].map(() => attempt(server, user('scheduler'), 'cancel', { id })),
      ...[1, 2].map(() => attempt(server, user('assignee'), 'fix', { id })),
    ];
    const results = await Promise.all(racers);
    const winners = results.filter((result) => !result.errors);
    expect(winners).toHaveLength(1);
    expect(
      results
        .filter((result) => result.errors)
        .map(errorCode)
        .filter((code) => code !== 'CONFLICT'),
    ).toEqual([]);
    const after = await snapshot(server, server.users.scheduler, id);
    expect((after.history as Array<{ status: string }>).map((entry) => entry.status)).toEqual(['NEW', 'ASSIGNED', after.status]);
  });

  it('a refusal changes nothing: status, history, replies, content and updatedAt stay as they were', async () => {
    const after = Object.fromEntries(
      await Promise.all(STATUS_NAMES.map(async (status) => [status, await snapshot(server, server.users.scheduler, tickets[status].id)])),
    );
    expect(after).toEqual(before);
  });
});
