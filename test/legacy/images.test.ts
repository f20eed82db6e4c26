import { GIF_BYTES, PNG_BYTES, upload } from '../support/http';
import { DATABASES, startServer, type TestServer } from '../support/server';
import { legacy, legacyOk, postForm } from '../support/legacy-client';
import { expectError } from '../support/legacy-shapes';

/** 1×1 JPEG and lossless WebP, real files. */
const JPEG_BYTES = Buffer.from(
  '/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=',
  'base64',
);
const WEBP_BYTES = Buffer.from('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==', 'base64');

/**
 * Legacy images end to end: base64 and data: URLs in JSON, file parts in multipart forms, stored
 * image URLs on edit; every image served back byte for byte, with its real type, at the absolute
 * URL the ticket lists.
 */
describe.each(DATABASES)('legacy ticket images (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server?.close());

  const imagesOf = async (uuid: string): Promise<string[]> =>
    (await legacyOk(server, server.users.customer, 'ticket-detail', { uuid }))['ticket-detail'].images;

  /** Fetches each URL and checks bytes and type against `expected`, in order. */
  async function expectServed(urls: string[], expected: Array<[Buffer, string]>): Promise<void> {
    expect(urls).toHaveLength(expected.length);
    for (const [index, url] of urls.entries()) {
      expect(url).toMatch(new RegExp(`^${server.url}/images/[0-9a-f-]{36}$`));
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe(expected[index][1]);
      expect(Buffer.from(await response.arrayBuffer()).equals(expected[index][0])).toBe(true);
    }
  }

  it('create-ticket in JSON: bare base64 (wrapped over lines too) and data: URLs of the four formats', async () => {
    const wrapped = PNG_BYTES.toString('base64').replace(/(.{20})/g, '$1\n');
    const { uuid } = await legacyOk(server, server.users.customer, 'create-ticket', {
      content: 'four formats',
      images: [
        wrapped,
        `data:image/gif;base64,${GIF_BYTES.toString('base64')}`,
        JPEG_BYTES.toString('base64'),
        `data:;base64,${WEBP_BYTES.toString('base64')}`,
      ],
    });
    await expectServed(await imagesOf(uuid), [
      [PNG_BYTES, 'image/png'],
      [GIF_BYTES, 'image/gif'],
      [JPEG_BYTES, 'image/jpeg'],
      [WEBP_BYTES, 'image/webp'],
    ]);
  });

  it('create-ticket as multipart/form-data: the JSON fields as text parts, images as file parts', async () => {
    const { customer } = server.users;
    const answer = await postForm(
      server,
      { action: 'create-ticket', credential: customer.credential, content: 'multipart', status: 'new' },
      // The declared type and file name are ignored: the bytes decide.
      [{ bytes: GIF_BYTES, type: 'image/png', name: 'a.png' }, { bytes: PNG_BYTES }, { bytes: WEBP_BYTES, field: 'attachment' }],
    );
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.body)).toEqual(['uuid']);
    const detail = (await legacyOk(server, customer, 'ticket-detail', { uuid: answer.body.uuid }))['ticket-detail'];
    expect(detail).toMatchObject({ content: 'multipart', status: 1, 'customer-id': customer.id });
    await expectServed(detail.images, [
      [GIF_BYTES, 'image/gif'],
      [PNG_BYTES, 'image/png'],
      [WEBP_BYTES, 'image/webp'],
    ]);
  });

  it('create-ticket as multipart without images, and with a file input left empty', async () => {
    const { customer } = server.users;
    const answer = await postForm(server, { action: 'create-ticket', credential: customer.credential, content: 'no images' }, [
      { bytes: Buffer.alloc(0), name: '' },
    ]);
    expect(answer.status).toBe(200);
    expect(await imagesOf(answer.body.uuid)).toEqual([]);
  });

  it('edit-ticket in JSON: stored URLs keep their images, data: URLs add, order is the new order, [] clears', async () => {
    const { customer } = server.users;
    const { uuid } = await legacyOk(server, customer, 'create-ticket', { content: 'edit me', images: [PNG_BYTES.toString('base64')] });
    const [png] = await imagesOf(uuid);
    // An image uploaded through /uploads by the same customer is usable too.
    const uploaded = (await upload(server, customer, [{ bytes: JPEG_BYTES }])).body.urls[0] as string;
    await legacyOk(server, customer, 'edit-ticket', { uuid, images: [`data:image/gif;base64,${GIF_BYTES.toString('base64')}`, uploaded, `${png}.png`] });
    const urls = await imagesOf(uuid);
    expect(urls[1]).toBe(uploaded);
    expect(urls[2]).toBe(png);
    await expectServed(urls, [
      [GIF_BYTES, 'image/gif'],
      [JPEG_BYTES, 'image/jpeg'],
      [PNG_BYTES, 'image/png'],
    ]);
    // Content only: images stay.
    await legacyOk(server, customer, 'edit-ticket', { uuid, content: 'edited' });
    expect(await imagesOf(uuid)).toEqual(urls);
    await legacyOk(server, customer, 'edit-ticket', { uuid, images: [] });
    expect(await imagesOf(uuid)).toEqual([]);
  });

  it('edit-ticket as multipart: URL text parts and file parts, in part order', async () => {
    const { customer } = server.users;
    const { uuid } = await legacyOk(server, customer, 'create-ticket', { content: 'edit by form', images: [PNG_BYTES.toString('base64')] });
    const [png] = await imagesOf(uuid);
    const form = new FormData();
    form.append('action', 'edit-ticket');
    form.append('credential', customer.credential);
    form.append('uuid', uuid);
    form.append('images', new Blob([GIF_BYTES]), 'new.gif');
    form.append('images[]', png);
    const response = await fetch(`${server.url}/api/ticket`, { method: 'POST', body: form });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ uuid });
    const urls = await imagesOf(uuid);
    expect(urls[1]).toBe(png);
    await expectServed(urls, [
      [GIF_BYTES, 'image/gif'],
      [PNG_BYTES, 'image/png'],
    ]);
  });

  it("refuses what is not an image, someone else's upload, duplicates and too many images", async () => {
    const { customer, otherCustomer } = server.users;
    const credential = customer.credential;
    expectError(
      await postForm(server, { action: 'create-ticket', credential, content: 'x' }, [{ bytes: Buffer.from('<html>not an image</html>') }]),
      400,
      /^images\[0\]/,
    );
    expectError(await postForm(server, { action: 'create-ticket', credential, content: 'x', images: 'not a url' }), 400, /^images\[0\]/);
    expectError(await legacy(server, customer, 'create-ticket', { content: 'x', images: ['data:image/png;base64,!!!'] }), 400, /^images\[0\]/);
    const theirs = (await upload(server, otherCustomer, [{ bytes: PNG_BYTES }])).body.urls[0] as string;
    expectError(await legacy(server, customer, 'create-ticket', { content: 'x', images: [theirs] }), 400, 'images[0]: no such image');
    const twice = new FormData();
    for (const [name, value] of [
      ['action', 'create-ticket'],
      ['credential', credential],
      ['content', 'a'],
      ['content', 'b'],
    ])
      twice.append(name, value);
    const duplicate = await fetch(`${server.url}/api/ticket`, { method: 'POST', body: twice });
    expect({ status: duplicate.status, body: await duplicate.json() }).toEqual({ status: 400, body: { code: 400, message: 'content is sent more than once' } });
    const eleven = Array.from({ length: 11 }, () => ({ bytes: PNG_BYTES }));
    const tooMany = await postForm(server, { action: 'create-ticket', credential, content: 'x' }, eleven);
    expect([400, 413]).toContain(tooMany.status);
    expect(tooMany.body).toEqual({ code: tooMany.status, message: expect.stringMatching(/10 images/) });
  });
});
