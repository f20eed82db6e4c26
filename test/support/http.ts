import type { TestServer, TestUser } from './server';

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: { code?: string; field?: string; [key: string]: unknown } }>;
}

/** POSTs a GraphQL operation as `user` (or anonymously) and returns status and body. */
export async function gql<T = Record<string, any>>(
  server: Pick<TestServer, 'url'>,
  user: Pick<TestUser, 'credential'> | null,
  query: string,
  variables?: Record<string, unknown>,
): Promise<GraphQLResponse<T>> {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(user ? { authorization: `Credential ${user.credential}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Omit<GraphQLResponse<T>, 'status'>;
  return { status: response.status, ...body };
}

/** Like gql, but fails the test on any error and returns `data`. */
export async function gqlOk<T = Record<string, any>>(
  server: Pick<TestServer, 'url'>,
  user: Pick<TestUser, 'credential'> | null,
  query: string,
  variables?: Record<string, unknown>,
): Promise<T> {
  const result = await gql<T>(server, user, query, variables);
  if (result.errors?.length || !result.data) {
    throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  }
  return result.data;
}

/** The `extensions.code` of the first error (undefined when none). */
export const errorCode = (result: GraphQLResponse): string | undefined => result.errors?.[0]?.extensions?.code;

export const TICKET_FIELDS = `
  id status content images createdAt updatedAt
  customer { id username roles }
  scheduler { id username }
  staff { id username }
  replies { id content author { id username } createdAt }
  history { id status actor { id username } at }
  permissions { reply edit assign startProcessing requestInformation fix close reopen cancel }
`;

/** Smallest valid PNG (1×1, transparent). */
export const PNG_BYTES = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  'base64',
);
/** Smallest GIF. */
export const GIF_BYTES = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

/** Uploads files to /uploads as multipart; returns status and body. */
export async function upload(
  server: Pick<TestServer, 'url'>,
  user: Pick<TestUser, 'credential'> | null,
  files: Array<{ bytes: Buffer; name?: string; type?: string }>,
): Promise<{ status: number; body: any }> {
  const form = new FormData();
  for (const [index, file] of files.entries()) {
    form.append('images', new Blob([file.bytes], { type: file.type ?? 'application/octet-stream' }), file.name ?? `image${index}.png`);
  }
  const response = await fetch(`${server.url}/uploads`, {
    method: 'POST',
    headers: user ? { authorization: `Credential ${user.credential}` } : {},
    body: form,
  });
  return { status: response.status, body: await response.json() };
}
