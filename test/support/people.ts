import { gql, gqlOk } from './http';
import type { TestServer, TestUser } from './server';

/** Helpers for the people suites (issue 11): sign-in tokens and throwaway users. */

export const LOGIN =
  'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { id token expiresAt idleTimeoutSeconds user { id username roles active admin createdAt } } }';

export interface SignedIn {
  readonly token: string;
  readonly sessionId: string;
  readonly userId: string;
}

/** Signs in over GraphQL; fails the test unless it works. */
export async function login(server: Pick<TestServer, 'url'>, username: string, password: string): Promise<SignedIn> {
  const data = await gqlOk(server, null, LOGIN, { u: username, p: password });
  return { token: data.login.token, sessionId: data.login.id, userId: data.login.user.id };
}

let counter = 0;

/** A fresh user created by the administrator, with a credential for `server`. */
export async function freshUser(server: TestServer, prefix: string, roles: string[], password = 'a fine password 1'): Promise<TestUser & { password: string }> {
  const username = `${prefix}${++counter}${Date.now().toString(36)}`;
  const data = await gqlOk(server, server.users.admin, 'mutation($input: CreateUserInput!) { createUser(input: $input) { id } }', {
    input: { username, password, roles },
  });
  return { id: Number(data.createUser.id), username, roles: roles as TestUser['roles'], credential: server.credential(username, password), password };
}

/** Polls `check` every 25 ms until it returns true; returns the milliseconds it took, or throws. */
export async function within(ms: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export const UPDATE_USER = 'mutation($id: ID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id roles admin active } }';

/** The first error's code of an operation, or 'OK'. */
export async function outcomeOf(
  server: Pick<TestServer, 'url'>,
  user: Parameters<typeof gql>[1],
  query: string,
  variables?: Record<string, unknown>,
): Promise<string> {
  const result = await gql(server, user, query, variables);
  return result.errors?.length ? String(result.errors[0].extensions?.code) : 'OK';
}
