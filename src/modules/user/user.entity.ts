import { Entity, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { Role } from './role';

/** A person who signs in with a credential. Ids are integers, shared by GraphQL and legacy. */
@Entity({ tableName: 'users' })
export class User {
  [OptionalProps]?: 'isAdmin' | 'active' | 'createdAt' | 'updatedAt';

  @PrimaryKey({ autoincrement: true })
  id!: number;

  @Property({ length: 64, unique: true })
  username!: string;

  /** scrypt hash (see auth/password.ts); the password itself is never stored. */
  @Property({ type: 'text', hidden: true })
  passwordHash!: string;

  @Property({ type: 'text[]' })
  roles!: Role[];

  @Property({ type: 'boolean' })
  isAdmin: boolean = false;

  /** False once an administrator deactivates the account: it keeps its tickets but cannot sign in. */
  @Property({ type: 'boolean' })
  active: boolean = true;

  @Property({ type: 'datetime', columnType: 'timestamptz(3)' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', columnType: 'timestamptz(3)', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
