import type { EntityManager } from '@mikro-orm/core';
import { Role } from '../modules/user/role';
import type { UserChange } from '../modules/user/user-change';
import type { DirectoryUser } from '../modules/user/user-directory';
import type { Viewer } from '../modules/user/viewer';
import type { Services } from '../services';
import type { TicketEventHub } from './event-hub';
import { LiveSignIns, type LiveSignIn } from './live-sign-ins';
import { UserChangeFanOut } from './user-changes';

/**
 * A connection tracked after changes to its user arrived (it was being authenticated meanwhile)
 * gets those changes applied as it is counted in; the rest of the fan-out is tested over real
 * sockets (test/graphql/people.test.ts, test/realtime/people-processes.test.ts).
 */

const staff: Viewer = Object.freeze({ id: 7, username: 'worker', roles: Object.freeze([Role.STAFF]), isAdmin: false });
const SESSION = '00000000-0000-4000-8000-000000000001';
const OTHER_SESSION = '00000000-0000-4000-8000-000000000002';

function signIn(viewer: Viewer, sessionId?: string): LiveSignIn & { endedWith?: string } {
  const connection: LiveSignIn & { endedWith?: string } = { viewer, sessionId, transport: 'socket', end: (reason) => (connection.endedWith = reason) };
  return connection;
}

/** A fan-out over fakes: the directory answers `users`, the hub records viewer updates. */
function fanOut(users: Map<number, DirectoryUser>) {
  const sockets = new LiveSignIns();
  const updated: Viewer[] = [];
  const services = {
    sessions: { settings: { idleTimeoutMs: 3_600_000 }, forgetSession: () => undefined, forgetUser: () => undefined, forgetAll: () => undefined },
    auth: { invalidateUser: () => undefined },
    directory: { byIds: () => Promise.resolve(users) },
  } as unknown as Services;
  const hub = { updateViewer: (viewer: Viewer) => void updated.push(viewer) } as unknown as TicketEventHub;
  const fan = new UserChangeFanOut({
    services,
    sockets,
    hub,
    fork: () => ({}) as EntityManager,
    logger: { warn: () => undefined, info: () => undefined, error: () => undefined },
  });
  return { sockets, updated, fan };
}

const user = (overrides: Partial<DirectoryUser> = {}): DirectoryUser => ({
  id: staff.id,
  username: staff.username,
  roles: [Role.STAFF],
  isAdmin: false,
  active: true,
  createdAt: 0,
  ...overrides,
});

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('a connection counted in after changes to its user arrived', () => {
  let fan: UserChangeFanOut | undefined;
  afterEach(() => fan?.close());

  it('is closed by its own session ending, not by another session of the same user', () => {
    const setup = fanOut(new Map());
    fan = setup.fan;
    const [mine, other] = [signIn(staff, SESSION), signIn(staff, OTHER_SESSION)];
    const since = setup.sockets.mark();
    setup.fan.onChange({ kind: 'session', userId: staff.id, sessionId: SESSION });
    setup.sockets.track(other, since);
    setup.sockets.track(mine, since);
    expect([mine.endedWith, other.endedWith]).toEqual(['Session ended', undefined]);
    expect(setup.sockets.countOf(staff.id)).toBe(1);
  });

  it('is closed by a password change when opened with a credential; a token survives it', () => {
    const setup = fanOut(new Map());
    fan = setup.fan;
    const [byCredential, byToken] = [signIn(staff), signIn(staff, SESSION)];
    const since = setup.sockets.mark();
    setup.fan.onChange({ kind: 'password', userId: staff.id });
    setup.sockets.track(byCredential, since);
    setup.sockets.track(byToken, since);
    expect([byCredential.endedWith, byToken.endedWith]).toEqual(['Password changed', undefined]);
  });

  it('is closed when the user was deactivated meanwhile', async () => {
    const setup = fanOut(new Map([[staff.id, user({ active: false })]]));
    fan = setup.fan;
    const connection = signIn(staff);
    const since = setup.sockets.mark();
    setup.fan.onChange({ kind: 'user', userId: staff.id });
    setup.sockets.track(connection, since);
    await tick();
    expect(connection.endedWith).toBe('Account deactivated');
  });

  it('gets the new roles when they changed meanwhile, even if the user has other connections that already have them', async () => {
    const scheduler = user({ roles: [Role.SCHEDULER] });
    const setup = fanOut(new Map([[staff.id, scheduler]]));
    fan = setup.fan;
    const current = signIn(Object.freeze({ ...staff, roles: Object.freeze([Role.SCHEDULER]) }));
    setup.sockets.track(current);
    const late = signIn(staff);
    const since = setup.sockets.mark();
    setup.fan.onChange({ kind: 'user', userId: staff.id });
    await tick();
    setup.sockets.track(late, since);
    await tick();
    expect([late.endedWith, late.viewer.roles]).toEqual([undefined, [Role.SCHEDULER]]);
    expect(setup.updated.at(-1)?.roles).toEqual([Role.SCHEDULER]);
  });

  it('is left alone by changes to other users, and by changes before its mark', () => {
    const setup = fanOut(new Map());
    fan = setup.fan;
    setup.fan.onChange({ kind: 'session', userId: staff.id, sessionId: SESSION });
    const since = setup.sockets.mark();
    setup.fan.onChange({ kind: 'password', userId: staff.id + 1 });
    const connection = signIn(staff, SESSION);
    setup.sockets.track(connection, since);
    expect(connection.endedWith).toBeUndefined();
  });
});

describe('LiveSignIns change marks', () => {
  const missedBy = (sockets: LiveSignIns, since: number, userId = staff.id): Array<UserChange | undefined> | undefined => {
    let missed: Array<UserChange | undefined> | undefined;
    sockets.onMissedChanges((_signIn, changes) => (missed = [...changes]));
    sockets.track(signIn({ ...staff, id: userId }), since);
    return missed;
  };

  it('hands over only the changes to that user since the mark', () => {
    const sockets = new LiveSignIns();
    sockets.noteChange({ kind: 'user', userId: staff.id });
    const since = sockets.mark();
    sockets.noteChange({ kind: 'user', userId: 99 });
    expect(missedBy(sockets, since)).toBeUndefined();
    sockets.noteChange({ kind: 'password', userId: staff.id });
    expect(missedBy(sockets, since)).toEqual([{ kind: 'password', userId: staff.id }]);
  });

  it('hands over "unknown" when notes may have been lost, or when more changes arrived than it keeps', () => {
    const sockets = new LiveSignIns();
    let since = sockets.mark();
    sockets.noteChange(undefined);
    expect(missedBy(sockets, since)).toEqual([undefined]);
    since = sockets.mark();
    for (let i = 0; i < 1_001; i++) sockets.noteChange({ kind: 'user', userId: 99 });
    expect(missedBy(sockets, since)).toEqual([undefined]);
  });
});
