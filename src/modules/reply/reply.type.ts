import { GraphQLDateTime } from 'graphql-scalars';
import { Field, ID, ObjectType } from 'type-graphql';
import { UserType } from '../user/user.type';

@ObjectType('Reply', { simpleResolvers: true })
export class ReplyType {
  @Field(() => ID)
  id!: string;

  @Field()
  content!: string;

  @Field(() => UserType)
  author!: UserType;

  /** Milliseconds since the epoch in the view; DateTime serialises numbers as such. */
  @Field(() => GraphQLDateTime)
  createdAt!: number;
}
