import { GraphQLDateTime } from 'graphql-scalars';
import { Field, ObjectType, registerEnumType } from 'type-graphql';
import { ReplyType } from '../reply/reply.type';
import { ConnectionType } from '../connection.type';
import { TicketType } from '../ticket/ticket.type';
import { UserType } from '../user/user.type';
import { TicketEventKind } from '../../modules/event/ticket-change';

registerEnumType(TicketEventKind, {
  name: 'TicketEventKind',
  description: 'What happened to a ticket.',
  valuesConfig: {
    CREATED: { description: 'A customer filed it.' },
    STATUS_CHANGED: { description: 'It moved along the workflow (assignment included).' },
    EDITED: { description: 'Its content or images changed.' },
    REPLY_ADDED: { description: 'Someone replied; `reply` is the new reply.' },
    REPLY_DELETED: { description: 'A reply was deleted; `reply` is the reply that went.' },
  },
});

@ObjectType('TicketEvent', { description: 'A committed change to a ticket the subscriber may see.' })
export class TicketEventType {
  @Field({ description: 'Pass as `after` to resume right after this event, even after a reconnect.' })
  cursor!: string;

  @Field(() => TicketEventKind)
  kind!: TicketEventKind;

  @Field(() => TicketType, { description: 'The ticket as the subscriber sees it now, permissions included.' })
  ticket!: TicketType;

  @Field(() => ReplyType, { nullable: true, description: 'For REPLY_ADDED and REPLY_DELETED.' })
  reply!: ReplyType | null;

  @Field(() => UserType, { description: 'Who made the change.' })
  actor!: UserType;

  @Field(() => GraphQLDateTime)
  at!: number;
}

@ObjectType('TicketEventConnection', {
  simpleResolvers: true,
  description:
    'A page of the event log, oldest first. pageInfo.endCursor is where the next page starts, even when this one has no ' +
    'edges (events the viewer may not see still move it); hasNextPage: the page read as many events as it may, so more may follow at once.',
})
export class TicketEventConnectionType extends ConnectionType('TicketEvent', TicketEventType) {}
