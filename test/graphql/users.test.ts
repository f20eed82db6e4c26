import { encodeCredential } from '../../src/modules/auth/credential';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { errorCode, gql, gqlOk, type GraphQLResponse } from '../support/http';

/**
 * `createUser` (administrators only) and `me`: who may create users, what usernames and
 * passwords are accepted, duplicates, and that a new user can sign in with the credential of
 * docs/contract.md and sees their roles.
 */

const CREATE_USER = 'mutation($input: CreateUserInput!) { createUser(input: $input) { id username roles } }';

describe.each(DATABASES)('users over GraphQL (%s)', (kind) => {
  let server: TestServer;
  let counter = 0;
  /** A username no other test uses. */
  const fresh = (prefix = 'user') => `${prefix}${++counter}`;
  const createUser = (input: Record<string, unknown>, as: { credential: string } = server.users.admin): Promise<GraphQLResponse> =>
    gql(server, as, CREATE_USER, { input });
  const me = (username: string, password: string) => gql(server, { credential: server.credential(username, password) }, '{ me { id username roles } }');

  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server?.close());

  it('me shows each fixture user with their roles', async () => {
    const expected = {
      customer: ['CUSTOMER'],
      otherCustomer: ['CUSTOMER'],
      staff: ['STAFF'],
      otherStaff: ['STAFF'],
      scheduler: ['SCHEDULER'],
      multi: ['CUSTOMER', 'STAFF'],
      admin: ['CUSTOMER', 'STAFF', 'SCHEDULER'],
    } as const;
    for (const [name, roles] of Object.entries(expected) as Array<[keyof typeof expected, readonly string[]]>) {
      const user = server.users[name];
      expect((await gqlOk(server, user, '{ me { id username roles } }')).me).toEqual({ id: String(user.id), username: user.username, roles });
    }
  });

  it('an administrator creates a user, who then signs in with their credential and sees their roles', async () => {
    const username = fresh('new.person@example');
    const created = await createUser({ username, password: 'a fine password', roles: ['STAFF', 'CUSTOMER'] });
    expect(created.errors).toBeUndefined();
    expect(created.data?.createUser).toEqual({ id: expect.stringMatching(/^\d+$/), username, roles: ['CUSTOMER', 'STAFF'] });
    expect((await me(username, 'a fine password')).data?.me).toEqual(created.data?.createUser);
    // 12-byte nonces work as well as the seed's 16-byte ones.
    const twelve = encodeCredential(username, 'a fine password', server.key, { nonceLength: 12 });
    expect((await gqlOk(server, { credential: twelve }, '{ me { username } }')).me.username).toBe(username);
    // The wrong password is the one UNAUTHENTICATED answer.
    const wrong = await me(username, 'not the password');
    expect(errorCode(wrong)).toBe('UNAUTHENTICATED');
    expect(wrong.errors?.[0].message).toBe('Invalid credential');
  });

  it('the new user acts in their roles at once: a new customer files a ticket, a new staff member can be assigned', async () => {
    const customer = fresh('cust');
    const staff = fresh('staff');
    await createUser({ username: customer, password: 'password one', roles: ['CUSTOMER'] });
    const staffUser = (await createUser({ username: staff, password: 'password two', roles: ['STAFF'] })).data?.createUser;
    const ticket = await gqlOk(
      server,
      { credential: server.credential(customer, 'password one') },
      'mutation { createTicket(input: { content: "hello" }) { id customer { username } } }',
    );
    expect(ticket.createTicket.customer.username).toBe(customer);
    const assigned = await gqlOk(
      server,
      server.users.scheduler,
      'mutation($id: ID!, $staffId: ID!) { assignTicket(id: $id, staffId: $staffId) { staff { username } } }',
      {
        id: ticket.createTicket.id,
        staffId: staffUser.id,
      },
    );
    expect(assigned.assignTicket.staff.username).toBe(staff);
  });

  it.each(['customer', 'otherCustomer', 'staff', 'scheduler', 'multi'] as const)('%s (not an administrator) is FORBIDDEN and creates nothing', async (name) => {
    const username = fresh('forbidden');
    const result = await createUser({ username, password: 'password 123', roles: ['CUSTOMER'] }, server.users[name]);
    expect(errorCode(result)).toBe('FORBIDDEN');
    expect(result.errors?.[0].message).toBe('You are not allowed to create users');
    expect(errorCode(await me(username, 'password 123'))).toBe('UNAUTHENTICATED');
    // The name is still free.
    expect((await createUser({ username, password: 'password 123', roles: ['CUSTOMER'] })).errors).toBeUndefined();
  });

  it('holding every role does not make a user an administrator; admin: true does', async () => {
    const everything = fresh('allroles');
    await createUser({ username: everything, password: 'password 123', roles: ['CUSTOMER', 'STAFF', 'SCHEDULER'] });
    const refused = await createUser(
      { username: fresh(), password: 'password 123', roles: ['CUSTOMER'] },
      { credential: server.credential(everything, 'password 123') },
    );
    expect(errorCode(refused)).toBe('FORBIDDEN');

    const second = fresh('admin');
    await createUser({ username: second, password: 'password 123', roles: ['SCHEDULER'], admin: true });
    const made = await createUser(
      { username: fresh(), password: 'password 123', roles: ['CUSTOMER'] },
      { credential: server.credential(second, 'password 123') },
    );
    expect(made.errors).toBeUndefined();
  });

  it('an anonymous caller is UNAUTHENTICATED', async () => {
    expect(errorCode(await gql(server, null, CREATE_USER, { input: { username: fresh(), password: 'password 123', roles: ['CUSTOMER'] } }))).toBe(
      'UNAUTHENTICATED',
    );
  });

  it.each([
    ['empty', ''],
    ['a space inside', 'has space'],
    ['leading space', ' lead'],
    ['starting with -', '-dash'],
    ['starting with .', '.dot'],
    ['65 characters', 'a'.repeat(65)],
    ['non-ASCII letters', 'ünïcödé'],
    ['a slash', 'a/b'],
    ['a NUL', 'a\u0000b'],
    ['a quote', `o'brien`],
  ])('a username with %s is BAD_USER_INPUT naming username', async (_, username) => {
    const result = await createUser({ username, password: 'password 123', roles: ['CUSTOMER'] });
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0].extensions?.field).toBe('username');
  });

  it.each([
    ['one character', 'q'],
    ['64 characters', 'b'.repeat(64)],
    ['dots, dashes, underscores and @', 'first.last-name_x@example.com'],
    ['digits first', '007bond'],
  ])('a username of %s is accepted', async (_, username) => {
    const result = await createUser({ username, password: 'password 123', roles: ['CUSTOMER'] });
    expect(result.data?.createUser.username).toBe(username);
    expect((await me(username, 'password 123')).data?.me.username).toBe(username);
  });

  it.each([
    ['7 characters', 'seven77'],
    ['8 spaces', '        '],
    ['1,025 characters', 'p'.repeat(1025)],
    ['empty', ''],
  ])('a password of %s is BAD_USER_INPUT naming password', async (_, password) => {
    const result = await createUser({ username: fresh(), password, roles: ['CUSTOMER'] });
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0].extensions?.field).toBe('password');
  });

  it('a password of exactly 8 characters, or with spaces and non-ASCII, works', async () => {
    for (const password of ['eight888', 'pässwörd with spaces ☃']) {
      const username = fresh('pw');
      expect((await createUser({ username, password, roles: ['STAFF'] })).errors).toBeUndefined();
      expect((await me(username, password)).data?.me.username).toBe(username);
    }
  });

  it('roles: none is BAD_USER_INPUT naming roles; an unknown role is BAD_USER_INPUT; duplicates collapse', async () => {
    const none = await createUser({ username: fresh(), password: 'password 123', roles: [] });
    expect(errorCode(none)).toBe('BAD_USER_INPUT');
    expect(none.errors?.[0].extensions?.field).toBe('roles');
    expect(errorCode(await createUser({ username: fresh(), password: 'password 123', roles: ['ADMIN'] }))).toBe('BAD_USER_INPUT');
    expect(errorCode(await createUser({ username: fresh(), password: 'password 123' }))).toBe('BAD_USER_INPUT');
    const twice = await createUser({ username: fresh(), password: 'password 123', roles: ['STAFF', 'STAFF'] });
    expect(twice.data?.createUser.roles).toEqual(['STAFF']);
  });

  it('a taken username is CONFLICT, and the first user keeps their password', async () => {
    const username = fresh('taken');
    await createUser({ username, password: 'first password', roles: ['CUSTOMER'] });
    const again = await createUser({ username, password: 'second password', roles: ['SCHEDULER'] });
    expect(errorCode(again)).toBe('CONFLICT');
    expect(again.errors?.[0].message).toMatch(username);
    expect(errorCode(await createUser({ username: 'customer', password: 'password 123', roles: ['CUSTOMER'] }))).toBe('CONFLICT');
    expect((await me(username, 'first password')).data?.me.roles).toEqual(['CUSTOMER']);
    expect(errorCode(await me(username, 'second password'))).toBe('UNAUTHENTICATED');
  });

  it('two concurrent creations of one username: one succeeds, the other is CONFLICT, never a 500', async () => {
    const username = fresh('race');
    const results = await Promise.all([1, 2, 3].map(() => createUser({ username, password: 'password 123', roles: ['CUSTOMER'] })));
    const codes = results.map((result) => errorCode(result) ?? 'OK').sort();
    expect(codes).toEqual(['CONFLICT', 'CONFLICT', 'OK']);
  });
});
