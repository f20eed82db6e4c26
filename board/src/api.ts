// The board talks to the server only through the public API: POST /graphql, graphql-ws on the
// same path, and POST /uploads for images.

export type Status = 'NEW' | 'ASSIGNED' | 'FIXED' | 'CLOSED' | 'REOPEN' | 'REQUEST_INFORMATION' | 'CANCEL' | 'IN_PROCESSING';
export type Role = 'CUSTOMER' | 'STAFF' | 'SCHEDULER';

export const STATUSES: Status[] = ['NEW', 'ASSIGNED', 'IN_PROCESSING', 'REQUEST_INFORMATION', 'FIXED', 'CLOSED', 'REOPEN', 'CANCEL'];
export const STATUS_LABEL: Record<Status, string> = {
  NEW: 'New',
  ASSIGNED: 'Assigned',
  IN_PROCESSING: 'In processing',
  REQUEST_INFORMATION: 'Information requested',
  FIXED: 'Fixed',
  CLOSED: 'Closed',
  REOPEN: 'Reopened',
  CANCEL: 'Cancelled',
};
export const ROLES: Role[] = ['CUSTOMER', 'STAFF', 'SCHEDULER'];

export interface UserRef {
  id: string;
  username: string;
  active?: boolean;
}
export interface Me extends UserRef {
  roles: Role[];
  admin: boolean | null;
}
export interface Permissions {
  reply: boolean;
  edit: boolean;
  assign: boolean;
  startProcessing: boolean;
  requestInformation: boolean;
  fix: boolean;
  close: boolean;
  reopen: boolean;
  cancel: boolean;
}
export interface Reply {
  id: string;
  content: string | null;
  author: UserRef;
  createdAt: string;
}
export interface HistoryEntry {
  id: string;
  status: Status;
  actor: UserRef;
  at: string;
}
export interface Ticket {
  id: string;
  status: Status;
  content: string;
  images: string[];
  createdAt: string;
  updatedAt: string;
  customer: UserRef;
  scheduler: UserRef | null;
  staff: UserRef | null;
  permissions: Permissions;
  replies?: Reply[];
  history?: HistoryEntry[];
}
export interface TicketEvent {
  cursor: string;
  kind: 'CREATED' | 'STATUS_CHANGED' | 'EDITED' | 'REPLY_ADDED' | 'REPLY_DELETED';
  at: string;
  actor: UserRef;
  reply: { id: string } | null;
  ticket: Ticket;
}

export const TICKET_FIELDS = `id status content images createdAt updatedAt
  customer { id username } scheduler { id username } staff { id username active }
  permissions { reply edit assign startProcessing requestInformation fix close reopen cancel }`;
export const DETAIL_FIELDS = `${TICKET_FIELDS}
  replies { id content createdAt author { id username } }
  history { id status at actor { id username } }`;

/** An error the API answered, in words; `code` is GraphQL's extensions.code. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'helpdesk.token';

/** The sign-in token, kept for this tab only (sessionStorage). */
export const tokenStore = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/**
 * Called when the server says a token no longer works (expired, revoked, deactivated), with the
 * token the refused request carried: an answer that arrives after this tab signed out, or signed
 * in again, is about a sign-in it has already left (app.tsx ignores it then).
 */
let onUnauthenticated: (token: string, reason: string) => void = () => undefined;
export function setUnauthenticatedHandler(handler: (token: string, reason: string) => void): void {
  onUnauthenticated = handler;
}

const CODE_WORDS: Record<string, string> = {
  UNAUTHENTICATED: 'You are signed out',
  FORBIDDEN: 'You are not allowed to do that',
  NOT_FOUND: 'It does not exist (any more)',
  CONFLICT: 'It changed meanwhile',
  BAD_USER_INPUT: 'Something in the form is not right',
  TOO_MANY_REQUESTS: 'Too many attempts: wait a moment and try again',
  SERVICE_UNAVAILABLE: 'The server is busy: try again shortly',
};

function networkError(): ApiError {
  return new ApiError('The server cannot be reached: check the connection and try again.', 'NETWORK');
}

/** One GraphQL operation over HTTP; throws ApiError with the server's words. */
export async function gql<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
  const token = tokenStore.get();
  let response: Response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw networkError();
  }
  let body: { data?: T | null; errors?: Array<{ message: string; extensions?: { code?: string; field?: string } }> };
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The server answered ${response.status} ${response.statusText}.`, `HTTP_${response.status}`);
  }
  const error = body.errors?.[0];
  if (error) {
    const code = error.extensions?.code ?? `HTTP_${response.status}`;
    if (code === 'UNAUTHENTICATED' && token) onUnauthenticated(token, 'Signed out: your session ended. Sign in again.');
    throw new ApiError(error.message || CODE_WORDS[code] || 'The request failed.', code, error.extensions?.field);
  }
  if (!body.data) throw new ApiError('The server answered without data.', `HTTP_${response.status}`);
  return body.data;
}

/** Uploads images through POST /uploads; resolves to their URLs in order. */
export async function uploadImages(files: File[]): Promise<string[]> {
  if (files.length === 0) return [];
  const token = tokenStore.get() ?? '';
  const form = new FormData();
  for (const file of files) form.append('images', file, file.name);
  let response: Response;
  try {
    response = await fetch('/uploads', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  } catch {
    throw networkError();
  }
  const body = (await response.json().catch(() => ({}))) as { urls?: string[]; message?: string; error?: string };
  if (response.status !== 201 || !body.urls) {
    if (response.status === 401 && token) onUnauthenticated(token, 'Signed out: your session ended. Sign in again.');
    throw new ApiError(body.message ?? `The upload was refused (${response.status}).`, `HTTP_${response.status}`);
  }
  return body.urls;
}

export const when = (iso: string) => new Date(iso).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
