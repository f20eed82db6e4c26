import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { Role } from './role';

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
