import type { TestServer } from './server';

/**
 * One sign-in attempt over a real transport, reduced to its outcome: `ok`, or the status it was
 * refused with (GraphQL errors map to their HTTP meaning: UNAUTHENTICATED 401,
 * TOO_MANY_REQUESTS 429, UNAVAILABLE 503).
 */
export type Outcome = 'ok' | number | string;

export type Transport = 'graphql' | 'legacy';
export const TRANSPORTS: Transport[] = ['graphql', 'legacy'];

const GRAPHQL_STATUS: Record<string, Outcome> = { UNAUTHENTICATED: 401, TOO_MANY_REQUESTS: 429, UNAVAILABLE: 503 };

/** Signs in with `credential` on `transport`; `headers` are added (X-Forwarded-For in proxy tests). */
export async function signIn(
  server: Pick<TestServer, 'url'>,
  transport: Transport,
  credential: string,
  headers: Record<string, string> = {},
): Promise<Outcome> {
  if (transport === 'legacy') {
    const response = await fetch(`${server.url}/api/ticket`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ action: 'permission-check', credential }),
    });
    await response.arrayBuffer();
    return response.status === 200 ? 'ok' : response.status;
  }
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Credential ${credential}`, ...headers },
    body: JSON.stringify({ query: '{ me { id } }' }),
  });
  const body = (await response.json()) as { data?: { me?: { id: string } } | null; errors?: Array<{ extensions?: { code?: string } }> };
  if (body.data?.me?.id) return 'ok';
  const code = body.errors?.[0]?.extensions?.code ?? `HTTP ${response.status}`;
  return GRAPHQL_STATUS[code] ?? code;
}

/** How many of each outcome. */
export function tally(outcomes: readonly Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) counts[String(outcome)] = (counts[String(outcome)] ?? 0) + 1;
  return counts;
}

/** scrypt computations started by the server's password hasher so far (undefined if it has none). */
export function hashesComputed(server: TestServer): number | undefined {
  return (server.app.services.auth as unknown as { hasher?: { computations: number } }).hasher?.computations;
}
