import { GraphQLDateTime } from 'graphql-scalars';
import { Field, ID, ObjectType } from 'type-graphql';
import { UserType } from '../user/user.type';

@ObjectType('Reply', { simpleResolvers: true })
export class ReplyType {
  @Field(() => ID)
  id!: string;

  @Field(() => String, {
    nullable: true,
    description: "The text; null only in a ticket event about a reply deleted since: a deleted reply's text is never served.",
  })
  content!: string | null;

  @Field(() => UserType)
  author!: UserType;

  /** Milliseconds since the epoch in the view; DateTime serialises numbers as such. */
  @Field(() => GraphQLDateTime)
  createdAt!: number;
}
