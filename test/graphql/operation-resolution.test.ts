import { startServer, type TestServer } from '../support/server';

/**
 * Queries run on graphql-jit (src/graphql/jit-executor.ts), with graphql-js answering what jit
 * should not: these pin that refusals keep Apollo's codes and statuses, never a 500.
 * The executor is the same on both databases, so the embedded one suffices.
 */
describe('operation resolution through the compiled executor', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer('embedded');
  });
  afterAll(() => server?.close());

  const post = async (body: Record<string, unknown>) => {
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Credential ${server.users.customer.credential}` },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { data?: unknown; errors?: Array<{ message: string; extensions: { code: string } }> } };
  };

  it.each([
    [{ query: 'query A { me { id } }', operationName: 'B' }, 'Unknown operation named "B".'],
    [{ query: 'query A { me { id } } query C { me { id } }' }, 'Must provide operation name if query contains multiple operations.'],
  ])('%j is OPERATION_RESOLUTION_FAILURE with 400', async (body, message) => {
    const result = await post(body);
    expect(result.status).toBe(400);
    expect(result.body.errors).toEqual([expect.objectContaining({ message, extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } })]);
  });

  it('runs the named operation of a document with several', async () => {
    const result = await post({ query: 'query A { me { username } } query C { me { id } }', operationName: 'A' });
    expect(result).toEqual({ status: 200, body: { data: { me: { username: 'customer' } } } });
  });

  it('answers variables that do not coerce with BAD_USER_INPUT and 400, and a resolver refusal with its code', async () => {
    const bad = await post({ query: 'query($n: Int) { tickets(first: $n) { totalCount } }', variables: { n: 'x' } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    const refused = await post({ query: 'mutation { createTicket(input: { content: " " }) { id } }' });
    expect(refused.status).toBe(200);
    expect(refused.body.errors?.[0]).toMatchObject({ message: 'content must not be empty', extensions: { code: 'BAD_USER_INPUT' } });
  });
});
