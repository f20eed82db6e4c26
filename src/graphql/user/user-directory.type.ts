import { GraphQLDateTime } from 'graphql-scalars';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { ConnectionType } from '../connection.type';
import { Role } from '../../modules/user/role';
import { UserAuditAction } from '../../modules/user/user-audit';
import type { UserFilter } from '../../modules/user/user-directory';
import { UserType } from './user.type';

registerEnumType(UserAuditAction, { name: 'UserAuditAction', description: 'What changed about a user.' });

@ObjectType('UserConnection', { simpleResolvers: true, description: 'A page of users, in username order.' })
export class UserConnectionType extends ConnectionType('User', UserType) {
  /** What `totalCount` counts; not a field. */
  filter!: UserFilter;
}

@ObjectType('UserAuditEntry', { simpleResolvers: true, description: 'One change to a user: who, what, when. Never a password or a token.' })
export class UserAuditEntryType {
  @Field(() => ID)
  id!: string;

  @Field(() => UserAuditAction)
  action!: UserAuditAction;

  /** Resolved from `actorId`. */
  actorId!: number | null;

  @Field(() => [Role], { nullable: true, description: 'CREATED and ROLES_CHANGED: the roles after the change.' })
  roles!: Role[] | null;

  @Field(() => [Role], { nullable: true, description: 'ROLES_CHANGED: the roles before.' })
  previousRoles!: Role[] | null;

  @Field(() => Boolean, { nullable: true, description: 'CREATED: whether the user was made an administrator.' })
  admin!: boolean | null;

  @Field(() => GraphQLDateTime)
  at!: number;
}
