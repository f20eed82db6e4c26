/** The roles of docs/contract.md ("Roles"). A user holds one or more; what they may do is the union. */
export enum Role {
  CUSTOMER = 'CUSTOMER',
  STAFF = 'STAFF',
  SCHEDULER = 'SCHEDULER',
}

export const ALL_ROLES: readonly Role[] = [Role.CUSTOMER, Role.STAFF, Role.SCHEDULER];

/** Numeric codes (docs/contract.md "Roles"). */
export const ROLE_CODE: Readonly<Record<Role, number>> = {
  [Role.CUSTOMER]: 1,
  [Role.STAFF]: 2,
  [Role.SCHEDULER]: 3,
};

/**
 * Reads a role from outside input: a name in any case (`staff`, `STAFF`) or its code as a number
 * or numeric string. Returns undefined for anything else.
 */
export function parseRole(input: unknown): Role | undefined {
  if (typeof input === 'number') return ALL_ROLES.find((role) => ROLE_CODE[role] === input);
  if (typeof input !== 'string') return undefined;
  const text = input.trim();
  if (/^\d+$/.test(text)) return parseRole(Number(text));
  const upper = text.toUpperCase();
  return ALL_ROLES.find((role) => role === upper);
}

/** Roles in their canonical order, without duplicates. */
export const normalizeRoles = (roles: Iterable<Role>): Role[] => {
  const held = new Set(roles);
  return ALL_ROLES.filter((role) => held.has(role));
};
