import { badInput, DomainError, ErrorCode } from '../shared/errors';
import { parseUserId, parseUuid } from '../shared/ids';
import { TicketStatus, parseStatus } from '../modules/ticket/ticket-status';
import { ANY_STATUS, LEGACY_ROLE_NAME, parseStatusFilter } from './legacy-vocabulary';
import { transitionInto } from '../modules/ticket/ticket.rules';
import type { TransitionOperation } from '../modules/ticket/ticket.service';
import { parseRole, Role } from '../modules/user/role';

/**
 * Readers for the fields of a legacy request. Each one validates a single field and, on bad
 * input, throws BAD_INPUT whose message starts with the field's legacy name (`staff-id`,
 * `reply.content`), so a client always learns which field to fix. Checks the domain already
 * makes (text length, image bytes, who may do what) are left to the services.
 */

/** The members of a legacy body, by their legacy (hyphenated) names. */
export type LegacyFields = Readonly<Record<string, unknown>>;

/** `null` counts as absent: old clients send `"staff-id": null` for "not given". */
export const isAbsent = (value: unknown): value is undefined | null => value === undefined || value === null;

/** A plain JSON object (not an array, not null). */
export const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The request body as fields; BAD_INPUT naming `body` unless it is a JSON object. */
export function asFields(body: unknown): LegacyFields {
  if (body === undefined || body === null || body === '') {
    throw badInput('body', 'The request body is empty: send a JSON object with an "action"');
  }
  if (!isPlainObject(body)) throw badInput('body', `The body must be a JSON object with an "action", not ${describe(body)}`);
  return body;
}

/** A short, safe description of an input value for messages (never echoes a long string). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** The value of a required field; BAD_INPUT `<name> is required` when absent. */
export function requireField(fields: LegacyFields, name: string): unknown {
  const value = fields[name];
  if (isAbsent(value)) throw badInput(name, `${name} is required`);
  return value;
}

/** A required ticket or reply id. */
export function readUuid(fields: LegacyFields, name: string): string {
  return parseUuid(requireField(fields, name), name);
}

/** An optional user id (number or numeric string); undefined when absent. */
export function readOptionalUserId(fields: LegacyFields, name: string): number | undefined {
  const value = fields[name];
  return isAbsent(value) ? undefined : parseUserId(value, name);
}

/** create-ticket's `status`: absent, or NEW in any spelling (the seed sends `"new"`). */
export function checkCreateStatus(fields: LegacyFields): void {
  const value = fields.status;
  if (isAbsent(value) || parseStatus(value) === TicketStatus.NEW) return;
  throw badInput('status', `status must be "new" or absent when creating a ticket, not ${describe(value)}`);
}

/**
 * edit-ticket's `status`: the transition into that status (`transitionInto` of the rule table),
 * or undefined when absent. NEW is no transition: tickets are NEW only when created.
 */
export function readTransition(fields: LegacyFields): TransitionOperation | undefined {
  const value = fields.status;
  if (isAbsent(value)) return undefined;
  const status = parseStatus(value);
  if (status === undefined) {
    throw badInput('status', `status must be a ticket status (a name such as "ASSIGNED" or "IN PROCESSING", or its code 2 to 8), not ${describe(value)}`);
  }
  const operation = transitionInto(status);
  if (operation === undefined) {
    throw badInput('status', `status ${describe(value)} is not a change a ticket can make: tickets are NEW only when created`);
  }
  return operation as TransitionOperation;
}

/**
 * A list's `status` filter: undefined for every status (`"ALL"`, `0`, or absent: docs/contract.md), else
 * the one status asked for.
 */
export function readStatusFilter(fields: LegacyFields): TicketStatus[] | undefined {
  const value = fields.status;
  if (isAbsent(value)) return undefined;
  const filter = parseStatusFilter(value);
  if (filter === undefined) {
    throw badInput('status', `status must be "ALL", 0, or a ticket status name or code, not ${describe(value)}`);
  }
  return filter === ANY_STATUS ? undefined : [filter];
}

/**
 * The role a list acts as (`operator`). `allowed` are the roles this action lists as; `fallback`
 * applies when the field is absent (scheduler-list names its role in the action itself).
 */
export function readOperator(fields: LegacyFields, allowed: readonly Role[], fallback?: Role): Role {
  const value = fields.operator;
  if (isAbsent(value)) {
    if (fallback !== undefined) return fallback;
    throw badInput('operator', `operator is required: ${allowedNames(allowed)}`);
  }
  const role = parseRole(value);
  if (role === undefined || !allowed.includes(role)) {
    throw badInput('operator', `operator must be ${allowedNames(allowed)}, not ${describe(value)}`);
  }
  return role;
}

const allowedNames = (roles: readonly Role[]): string => roles.map((role) => `"${LEGACY_ROLE_NAME[role]}"`).join(' or ');

/** Most tickets one legacy page may hold. */
export const MAX_LEGACY_PAGE_SIZE = 100;
/** Page size when a client sends `page` without `page-size`. */
export const DEFAULT_LEGACY_PAGE_SIZE = 20;
/** Highest page number accepted; far beyond any real list, it only bounds the offset. */
const MAX_PAGE = 1_000_000;

export interface LegacyPaging {
  readonly limit: number;
  readonly offset: number;
}

/**
 * Optional paging of list actions: `page` (1-based) and `page-size` (1 to 100, default 20).
 * Undefined when neither is sent, so old clients still get every ticket.
 */
export function readPaging(fields: LegacyFields): LegacyPaging | undefined {
  const page = fields.page;
  const size = fields['page-size'];
  if (isAbsent(page) && isAbsent(size)) return undefined;
  const pageNumber = isAbsent(page) ? 1 : readBoundedInteger(page, 'page', 1, MAX_PAGE);
  const limit = isAbsent(size) ? DEFAULT_LEGACY_PAGE_SIZE : readBoundedInteger(size, 'page-size', 1, MAX_LEGACY_PAGE_SIZE);
  return { limit, offset: (pageNumber - 1) * limit };
}

function readBoundedInteger(value: unknown, name: string, min: number, max: number): number {
  const number = typeof value === 'string' && /^\s*\d{1,10}\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
    throw badInput(name, `${name} must be an integer from ${min} to ${max}, not ${describe(value)}`);
  }
  return number;
}

/**
 * Runs `work` and renames the fields of the BAD_INPUT errors it throws from the services' names
 * to the legacy ones (`staffId` → `staff-id`), message included, so a legacy client is told
 * about the field it actually sent.
 */
export async function withLegacyFieldNames<T>(renames: Readonly<Record<string, string>>, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw renameField(error, renames);
  }
}

/** The error with its field renamed, or the error itself when there is nothing to rename. */
export function renameField(error: unknown, renames: Readonly<Record<string, string>>): unknown {
  if (!(error instanceof DomainError) || error.code !== ErrorCode.BAD_INPUT || error.details.field === undefined) return error;
  const field = error.details.field;
  // `images[2]` renames with `images`.
  const base = field.replace(/\[\d+\]$/, '');
  const legacy = renames[base];
  if (legacy === undefined) return error;
  const legacyField = legacy + field.slice(base.length);
  const message = error.message.startsWith(field) ? legacyField + error.message.slice(field.length) : `${legacyField}: ${error.message}`;
  return new DomainError(error.code, message, { ...error.details, field: legacyField });
}
