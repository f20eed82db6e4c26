import { Role } from './role';

/** The authenticated user a request acts as. Built once per request (or per cached credential). */
export interface Viewer {
  readonly id: number;
  readonly username: string;
  readonly roles: readonly Role[];
  /** Administrators manage users (createUser); it grants nothing on tickets. */
  readonly isAdmin: boolean;
}

export const hasRole = (viewer: Viewer, role: Role): boolean => viewer.roles.includes(role);
