import type { TestServer, TestUser } from './server';
import { SEED_REQUESTS, type SeedRequestName } from './seed-requests';

/** A legacy answer: the HTTP status, the headers and the parsed JSON body. */
export interface LegacyResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** POSTs a raw body to /api/ticket (any content type; `application/json` unless told). */
export async function postRaw(
  server: Pick<TestServer, 'url'>,
  body: string | FormData | Buffer,
  contentType: string | null = 'application/json',
): Promise<LegacyResponse> {
  const headers: Record<string, string> = {};
  if (contentType !== null && !(body instanceof FormData)) headers['content-type'] = contentType;
  const response = await fetch(`${server.url}/api/ticket`, { method: 'POST', headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`/api/ticket answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** POSTs an action as `user` (the credential is added) with strict JSON. */
export function legacy(
  server: Pick<TestServer, 'url'>,
  user: Pick<TestUser, 'credential'> | null,
  action: string,
  fields: Record<string, unknown> = {},
): Promise<LegacyResponse> {
  return postRaw(server, JSON.stringify({ action, ...(user ? { credential: user.credential } : {}), ...fields }));
}

/** Like `legacy`, but fails the test unless the answer is 200, and returns the body. */
export async function legacyOk<T = any>(
  server: Pick<TestServer, 'url'>,
  user: Pick<TestUser, 'credential'>,
  action: string,
  fields: Record<string, unknown> = {},
): Promise<T> {
  const response = await legacy(server, user, action, fields);
  if (response.status !== 200) throw new Error(`${action} answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body as T;
}

/** POSTs a multipart form: `fields` as text parts, then `files` as file parts named `images`. */
export async function postForm(
  server: Pick<TestServer, 'url'>,
  fields: Record<string, string>,
  files: Array<{ bytes: Buffer; name?: string; type?: string; field?: string }> = [],
): Promise<LegacyResponse> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  for (const [index, file] of files.entries()) {
    form.append(file.field ?? 'images', new Blob([file.bytes], { type: file.type ?? 'application/octet-stream' }), file.name ?? `image${index}.png`);
  }
  return postRaw(server, form, null);
}

/**
 * The credential hex laid out as the seed lays its credentials out: broken over lines of 90
 * digits inside the quotes, each continuation line indented like the first.
 */
export function wrapCredential(hex: string, indent: string): string {
  const lines = hex.match(/.{1,90}/g) ?? [hex];
  return lines.join(`\n${indent}`);
}

/**
 * A seed example request with real values put in place of the document's placeholders: the
 * credential (kept broken over lines, in the document's indentation), then each `replacements`
 * pair (a literal piece of the example and what it becomes). Everything else stays byte for
 * byte as the document has it.
 */
export function seedRequest(name: SeedRequestName, credential: string, replacements: Array<[string, string]> = []): string {
  let text: string = SEED_REQUESTS[name];
  text = text.replace(
    /("credential":[ \t]*\n)([ \t]*)"[0-9a-fA-F\s]+"/,
    (_match, head: string, indent: string) => `${head}${indent}"${wrapCredential(credential, indent)}"`,
  );
  for (const [from, to] of replacements) {
    if (!text.includes(from)) throw new Error(`seed example ${name} has no ${JSON.stringify(from)}`);
    text = text.replace(from, to);
  }
  return text;
}
