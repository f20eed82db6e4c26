import { DATABASES, startServer, type TestServer } from '../support/server';

describe.each(DATABASES)('malformed multipart bodies (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind, { bare: true });
  });
  afterAll(() => server?.close());

  const post = (path: string, contentType: string, body: string) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': contentType, authorization: `Credential ${server.users.admin.credential}` },
      body,
    });

  it.each(['/uploads', '/api/ticket'])('%s answers a form without a boundary or cut short with 400, never 500', async (path) => {
    for (const [contentType, body] of [
      ['multipart/form-data', 'no boundary here'],
      // The credential comes first: /api/ticket reads no file before it (test/security/body-before-auth.test.ts).
      [
        'multipart/form-data; boundary=XyZ',
        `--XyZ\r\nContent-Disposition: form-data; name="credential"\r\n\r\n${server.users.admin.credential}\r\n` +
          '--XyZ\r\nContent-Disposition: form-data; name="images"; filename="a.png"\r\n\r\nabc',
      ],
    ]) {
      const response = await post(path, contentType, body);
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({ code: 400, message: expect.stringMatching(/multipart/i) });
    }
  });
});
