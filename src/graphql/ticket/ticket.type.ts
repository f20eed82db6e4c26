import { GraphQLDateTime } from 'graphql-scalars';
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Role } from '../../modules/user/role';
import { ConnectionType } from '../connection.type';
import { UserType } from '../user/user.type';
import { TicketStatus } from '../../modules/ticket/ticket-status';
import type { TicketFilter } from '../../modules/ticket/ticket.query';
import { OrderDirection, TicketOrderField } from '../../modules/ticket/ticket-order';

/*
 * Every object type here sets `simpleResolvers`: plain fields resolve by property, without
 * type-graphql's per-field wrapper (we use no middlewares), which a 50-ticket page calls thousands
 * of times. Field resolvers (`permissions`, `images`, ...) are unaffected.
 */

registerEnumType(TicketStatus, { name: 'TicketStatus', description: 'Where a ticket is in the workflow.' });
registerEnumType(TicketOrderField, {
  name: 'TicketOrderField',
  description: 'What tickets are sorted by; ties are broken by ticket id in the same direction.',
  valuesConfig: {
    CREATED_AT: { description: 'When the ticket was filed.' },
    UPDATED_AT: { description: 'When it last changed in a way subscribers see: a transition, an edit, a reply added or deleted.' },
    STATUS: {
      description: 'The status code: NEW, ASSIGNED, FIXED, CLOSED, REOPEN, REQUEST_INFORMATION, CANCEL, IN_PROCESSING (ascending).',
    },
  },
});
registerEnumType(OrderDirection, { name: 'OrderDirection' });

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

@ObjectType('TicketConnection', { simpleResolvers: true, description: 'A page of tickets, in the ordering asked for.' })
export class TicketConnectionType extends ConnectionType('Ticket', TicketType) {
  /** What `totalCount` counts; not a field. */
  query!: TicketFilter;
}

@InputType('DateTimeRange', { description: 'From gte (inclusive) to lt (exclusive); either end may be left open.' })
export class DateTimeRangeInput {
  @Field(() => GraphQLDateTime, { nullable: true })
  gte?: Date | null;

  @Field(() => GraphQLDateTime, { nullable: true })
  lt?: Date | null;
}

@InputType('TicketFilter', { description: 'Every field narrows the tickets the viewer may see; all combine.' })
export class TicketFilterInput {
  @Field(() => [TicketStatus], { nullable: true, description: 'Only tickets in one of these statuses.' })
  status?: TicketStatus[] | null;

  @Field(() => Role, { nullable: true, description: 'Act as this role only (you must hold it).' })
  as?: Role | null;

  @Field(() => ID, { nullable: true, description: 'Only tickets assigned to this staff member.' })
  staffId?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'true: only tickets assigned to nobody; false: only assigned ones.' })
  unassigned?: boolean | null;

  @Field(() => ID, { nullable: true, description: 'Only tickets this customer filed.' })
  customerId?: string | null;

  @Field(() => DateTimeRangeInput, { nullable: true })
  createdAt?: DateTimeRangeInput | null;

  @Field(() => DateTimeRangeInput, { nullable: true })
  updatedAt?: DateTimeRangeInput | null;

  @Field(() => String, {
    nullable: true,
    description:
      'Words or fragments, each found (case-insensitively, as a substring: Chinese works) in the content or in a reply ' +
      'not deleted. Up to 200 characters and 8 terms, each at least 2 characters; blank means no search.',
  })
  search?: string | null;
}

@InputType('TicketOrder')
export class TicketOrderInput {
  // Nullable with defaults: omitted or null means the default. Required fields with defaults
  // would work too, but would send every document with a TicketOrder variable to graphql-js
  // (graphql-jit does not fill them in; see jitCoercesVariablesOf in src/graphql/jit-executor.ts).
  @Field(() => TicketOrderField, { nullable: true, defaultValue: TicketOrderField.CREATED_AT })
  field?: TicketOrderField | null;

  @Field(() => OrderDirection, { nullable: true, defaultValue: OrderDirection.DESC })
  direction?: OrderDirection | null;
}

@ObjectType('StatusCount', { simpleResolvers: true })
export class StatusCountType {
  @Field(() => TicketStatus)
  status!: TicketStatus;

  @Field(() => Int)
  count!: number;
}

@ObjectType('StaffCount', { simpleResolvers: true })
export class StaffCountType {
  @Field(() => UserType, { nullable: true, description: 'null: tickets assigned to nobody.' })
  staff!: UserType | null;

  @Field(() => Int)
  count!: number;
}

@ObjectType('TicketStats', { simpleResolvers: true, description: 'Counts of the tickets a filter matches, as the viewer sees them.' })
export class TicketStatsType {
  @Field(() => Int)
  total!: number;

  @Field(() => [StatusCountType], { description: 'Every status in status-code order, zeros included.' })
  byStatus!: StatusCountType[];

  @Field(() => [StaffCountType], {
    nullable: true,
    description: 'Per assigned staff member, most tickets first: for schedulers (acting as scheduler) only, else null.',
  })
  byStaff!: StaffCountType[] | null;
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
