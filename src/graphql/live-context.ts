import type { TicketEventFeed } from '../modules/event/ticket-event.feed';
import type { RequestContext } from './context';

/** The context of an operation on the WebSocket transport: what a subscription resolver reads. */
export interface LiveContext extends RequestContext {
  readonly feed?: TicketEventFeed;
  /** Gives the operation a fresh EntityManager fork for its next event. */
  renew?(): void;
}
