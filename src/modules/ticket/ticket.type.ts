import { GraphQLDateTime } from 'graphql-scalars';
import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { ReplyType } from '../reply/reply.type';
import { Role } from '../user/role';
import { UserType } from '../user/user.type';
import { TicketStatus } from './ticket-status';
import type { TicketListQuery } from './ticket.query';

/*
 * Every object type here sets `simpleResolvers`: plain fields resolve by property, without
 * type-graphql's per-field wrapper (we use no middlewares), which a 50-ticket page calls thousands
 * of times. Field resolvers (`permissions`, `images`, ...) are unaffected.
 */

registerEnumType(TicketStatus, { name: 'TicketStatus', description: 'Where a ticket is in the workflow.' });

@ObjectType('TicketPermissions', {
  simpleResolvers: true,
  description: 'What the viewer may do to this ticket right now; the mutations obey the same rules.',
})
export class TicketPermissionsType {
  @Field() reply!: boolean;
  @Field() edit!: boolean;
  @Field() assign!: boolean;
  @Field() startProcessing!: boolean;
  @Field() requestInformation!: boolean;
  @Field() fix!: boolean;
  @Field() close!: boolean;
  @Field() reopen!: boolean;
  @Field() cancel!: boolean;
}

@ObjectType('HistoryEntry', { simpleResolvers: true, description: 'One status change in the operating history.' })
export class HistoryEntryType {
  @Field(() => ID)
  id!: string;

  @Field(() => TicketStatus, { description: 'The status the ticket entered.' })
  status!: TicketStatus;

  @Field(() => UserType)
  actor!: UserType;

  @Field(() => GraphQLDateTime)
  at!: number;
}

@ObjectType('Ticket', { simpleResolvers: true })
export class TicketType {
  @Field(() => ID)
  id!: string;

  @Field(() => TicketStatus)
  status!: TicketStatus;

  @Field()
  content!: string;

  @Field(() => UserType, { description: 'The customer who filed it.' })
  customer!: UserType;

  @Field(() => UserType, { nullable: true, description: 'The scheduler who last assigned it.' })
  scheduler!: UserType | null;

  @Field(() => UserType, { nullable: true, description: 'The staff member it is assigned to.' })
  staff!: UserType | null;

  @Field(() => GraphQLDateTime)
  createdAt!: number;

  @Field(() => GraphQLDateTime)
  updatedAt!: number;
}

@ObjectType('PageInfo', { simpleResolvers: true })
export class PageInfoType {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

@ObjectType('TicketEdge', { simpleResolvers: true })
export class TicketEdgeType {
  @Field()
  cursor!: string;

  @Field(() => TicketType)
  node!: TicketType;
}

@ObjectType('TicketConnection', { simpleResolvers: true, description: 'A page of tickets, newest first.' })
export class TicketConnectionType {
  @Field(() => [TicketEdgeType])
  edges!: TicketEdgeType[];

  @Field(() => PageInfoType)
  pageInfo!: PageInfoType;

  /** What `totalCount` counts; not a field. */
  query!: Pick<TicketListQuery, 'as' | 'statuses'>;
}

@InputType('TicketFilter')
export class TicketFilterInput {
  @Field(() => [TicketStatus], { nullable: true, description: 'Only tickets in one of these statuses.' })
  status?: TicketStatus[] | null;

  @Field(() => Role, { nullable: true, description: 'Act as this role only (you must hold it).' })
  as?: Role | null;
}

@InputType('CreateTicketInput')
export class CreateTicketInput {
  @Field({ description: '1 to 65,536 characters.' })
  content!: string;

  @Field(() => [String], { nullable: true, description: 'Image URLs from POST /uploads, or data: URLs. At most 10.' })
  images?: string[] | null;
}

@InputType('EditTicketInput', { description: 'Omitted fields stay as they are.' })
export class EditTicketInput {
  @Field(() => String, { nullable: true })
  content?: string | null;

  @Field(() => [String], { nullable: true, description: 'The new image list, replacing the old one.' })
  images?: string[] | null;
}

