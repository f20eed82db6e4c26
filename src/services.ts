import type { AuthService } from './modules/auth/auth.service';
import type { ImageService } from './modules/image/image.service';
import type { ReplyService } from './modules/reply/reply.service';
import type { TicketReader } from './modules/ticket/ticket.query';
import type { TicketService } from './modules/ticket/ticket.service';
import type { UserService } from './modules/user/user.service';

/** The domain core every transport (GraphQL, legacy, uploads, subscriptions) calls into. */
export interface Services {
  readonly auth: AuthService;
  readonly users: UserService;
  readonly tickets: TicketService;
  readonly replies: ReplyService;
  readonly images: ImageService;
  readonly reader: TicketReader;
}
