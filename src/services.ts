import type { AuthService } from './modules/auth/auth.service';
import type { ImageService } from './modules/image/image.service';
import type { ReplyService } from './modules/reply/reply.service';
import type { SessionService } from './modules/session/session.service';
import type { TicketReader } from './modules/ticket/ticket.query';
import type { TicketService } from './modules/ticket/ticket.service';
import type { UserDirectory } from './modules/user/user-directory';
import type { UserLifecycleService } from './modules/user/user-lifecycle.service';
import type { UserService } from './modules/user/user.service';

/** The domain core every transport (GraphQL, legacy, uploads, subscriptions) calls into. */
export interface Services {
  readonly auth: AuthService;
  readonly users: UserService;
  readonly tickets: TicketService;
  readonly replies: ReplyService;
  readonly images: ImageService;
  readonly reader: TicketReader;
  /** Sign-in tokens. */
  readonly sessions: SessionService;
  /** Reads of users: the directory, and the facts `User` fields show. */
  readonly directory: UserDirectory;
  /** Changes to users after creation: roles, admin flag, deactivation, passwords, the audit trail. */
  readonly lifecycle: UserLifecycleService;
}
