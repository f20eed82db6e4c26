/*
 * SQL fragments and a driver shim shared by the statements that return rows as JSON (the ticket
 * reader, the event log), so a user or a time reads the same way in every answer.
 */

/** A user row (`alias`) as the JSON `{ id, username, roles }`. */
export const userJson = (alias: string): string => `json_build_object('id', ${alias}.id, 'username', ${alias}.username, 'roles', ${alias}.roles)`;

/** A timestamp column as milliseconds since the epoch (a float8, which drivers read as a number). */
export const epochMs = (column: string): string => `(extract(epoch from ${column}) * 1000)::float8`;

/** Drivers differ on whether json arrives parsed; accept both. */
export const parsedJson = <T>(value: T | string): T => (typeof value === 'string' ? (JSON.parse(value) as T) : value);
