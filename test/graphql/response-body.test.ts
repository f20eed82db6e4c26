import { DATABASES, startServer, type TestServer } from '../support/server';
import { authorizationOf, createTicketAs } from '../support/http';

/**
 * The bytes of a GraphQL answer over HTTP (http/json-body.ts): Apollo's JSON text and one
 * newline, as Apollo's default sends it, encoded once into a Buffer; `content-length` counts the
 * UTF-8 bytes; answers that are not Apollo's JSON text (the landing page, refusals before Apollo
 * runs) are sent as they were.
 */
describe.each(DATABASES)('GraphQL response bodies (%s)', (kind) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(kind, { config: { graphqlLandingPage: true } });
  });
  afterAll(() => server.close());

  async function raw(init: RequestInit): Promise<{ status: number; headers: Headers; bytes: Buffer }> {
    const response = await fetch(`${server.url}/graphql`, init);
    return { status: response.status, headers: response.headers, bytes: Buffer.from(await response.arrayBuffer()) };
  }

  const post = (body: string, headers: Record<string, string> = {}) =>
    raw({ method: 'POST', headers: { 'content-type': 'application/json', ...authorizationOf(server.users.customer), ...headers }, body });

  /** The body is JSON.stringify of what it parses to, then one newline: Apollo's own format. */
  function expectApolloJson(answer: { headers: Headers; bytes: Buffer }): Record<string, any> {
    const text = answer.bytes.toString('utf8');
    expect(text.endsWith('}\n')).toBe(true);
    const parsed = JSON.parse(text);
    expect(text).toBe(`${JSON.stringify(parsed)}\n`);
    expect(Number(answer.headers.get('content-length'))).toBe(answer.bytes.length);
    return parsed;
  }

  it('answers a query with multi-byte text as JSON and a newline, its length in bytes', async () => {
    const content = '打印机坏了，请帮忙看看 🎫 "quoted" \\ back';
    const id = await createTicketAs(server, server.users.customer, content);
    const answer = await post(JSON.stringify({ query: 'query($id: ID!) { ticket(id: $id) { id content } }', variables: { id } }));
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(expectApolloJson(answer)).toEqual({ data: { ticket: { id, content } } });
  });

  it("answers the graphql-response+json media type and Apollo's own refusals the same way", async () => {
    const accepted = await post(JSON.stringify({ query: '{ me { username } }' }), { accept: 'application/graphql-response+json' });
    expect(accepted.headers.get('content-type')).toMatch(/^application\/graphql-response\+json/);
    expect(expectApolloJson(accepted)).toEqual({ data: { me: { username: server.users.customer.username } } });
    const invalid = await post(JSON.stringify({ query: '{ me { usernam } }' }));
    expect(invalid.status).toBe(400);
    expect(expectApolloJson(invalid).errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const missing = await post(JSON.stringify({ variables: {} }));
    expect(missing.status).toBe(400);
    expect(expectApolloJson(missing).errors[0].message).toMatch(/query/);
  });

  it('leaves the landing page and refusals made before Apollo runs as they were', async () => {
    const page = await raw({ headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.bytes.toString('utf8')).toMatch(/<!DOCTYPE html>/i);
    expect(Number(page.headers.get('content-length'))).toBe(page.bytes.length);
    const malformed = await post('{"query": ');
    expect(malformed.status).toBe(400);
    const text = malformed.bytes.toString('utf8');
    expect(text.endsWith('\n')).toBe(false);
    expect(JSON.parse(text)).toMatchObject({ code: 400 });
  });
});
