import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { Role } from '../../modules/user/role';

registerEnumType(Role, {
  name: 'Role',
  description: 'What a user may do: customers file tickets, staff work on them, schedulers dispatch them.',
});

@ObjectType('User', { simpleResolvers: true, description: 'A person who signs in. `id` is the integer id the legacy API uses too.' })
export class UserType {
  @Field(() => ID)
  id!: number;

  @Field()
  username!: string;

  @Field(() => [Role])
  roles!: Role[];

  // Resolved by UserFieldsResolver from the object when it carries them, else batched per request.
  active?: boolean;
  isAdmin?: boolean;
  createdAt?: number;
}

@InputType({ description: 'A new user; administrators only.' })
export class CreateUserInput {
  @Field({ description: '1 to 64 characters: letters, digits and . _ @ -' })
  username!: string;

  @Field({ description: 'At least 8 characters.' })
  password!: string;

  @Field(() => [Role])
  roles!: Role[];

  @Field({ nullable: true, description: 'Whether the new user may manage users too. Default false.' })
  admin?: boolean;
}

@InputType('UserFilter', { description: 'Narrows the user directory; every field given must match.' })
export class UserFilterInput {
  @Field(() => [Role], { nullable: true, description: 'Users holding any of these roles.' })
  roles?: Role[] | null;

  @Field(() => String, { nullable: true, description: 'Part of the username, any case (at most 64 characters).' })
  search?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Only active (true) or only deactivated (false) users.' })
  active?: boolean | null;
}

@InputType('UpdateUserInput', { description: 'What to change about a user; fields left out stay as they are. Administrators only.' })
export class UpdateUserInput {
  @Field(() => [Role], { nullable: true })
  roles?: Role[] | null;

  @Field(() => Boolean, { nullable: true, description: 'Whether the user manages users.' })
  admin?: boolean | null;

  @Field(() => Boolean, {
    nullable: true,
    description: 'false deactivates: the user can no longer sign in, their sessions end and their sockets close. Their tickets stay assigned.',
  })
  active?: boolean | null;
}
