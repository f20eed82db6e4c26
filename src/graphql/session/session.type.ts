import { GraphQLDateTime } from 'graphql-scalars';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { UserType } from '../user/user.type';

@ObjectType('Session', {
  simpleResolvers: true,
  description: 'A sign-in: send `token` as `Authorization: Bearer <token>`, or as `token` in graphql-ws connectionParams.',
})
export class SessionType {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'Shown this once: the server keeps only its digest.' })
  token!: string;

  @Field(() => GraphQLDateTime, { description: 'The latest the token works until; it stops earlier after `idleTimeoutSeconds` unused.' })
  expiresAt!: number;

  @Field(() => Int)
  idleTimeoutSeconds!: number;

  @Field(() => UserType)
  user!: UserType;
}

@ObjectType('ActiveSession', { simpleResolvers: true, description: 'A live sign-in, without its token.' })
export class ActiveSessionType {
  @Field(() => ID)
  id!: string;

  @Field(() => GraphQLDateTime)
  createdAt!: number;

  @Field(() => GraphQLDateTime)
  lastUsedAt!: number;

  @Field(() => GraphQLDateTime, { description: 'When it stops working if left unused (never later than its maximum age).' })
  idleExpiresAt!: number;

  @Field(() => GraphQLDateTime, { description: 'Its maximum age.' })
  expiresAt!: number;

  @Field({ description: 'Whether this request came with it.' })
  current!: boolean;

  @Field(() => String, { nullable: true, description: 'The User-Agent that signed in (at most 200 characters).' })
  userAgent!: string | null;
}
