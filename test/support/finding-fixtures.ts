import { TicketOperation } from '../../src/modules/ticket/ticket.rules';
import type { TransitionOperation } from '../../src/modules/ticket/ticket.service';
import type { Viewer } from '../../src/modules/user/viewer';
import type { TestServer, TestUser } from './server';

/**
 * A varied set of tickets for the finding suites, written through the domain services (the same
 * path as the API, without hundreds of HTTP round trips): three owners, every status, three
 * assignees, English and Chinese text, replies that match and a deleted one that must not.
 */

export const CONTENTS = [
  'The printer is on fire',
  '我的打印机坏了',
  'Network is down again',
  'Cannot log in: 100% sure the pass_word is right',
  'Monitor flickers',
  '打印出来的文件是空白的',
] as const;

export const MATCHING_REPLY = 'PRINTER toner is low';
export const DELETED_REPLY = 'a deleted note about the scanner 扫描仪';

export const viewerOf = (user: TestUser): Viewer => ({ id: user.id, username: user.username, roles: user.roles, isAdmin: false });

type Target = 'NEW' | 'ASSIGNED' | 'IN_PROCESSING' | 'FIXED' | 'CLOSED' | 'CANCEL' | 'REQUEST_INFORMATION' | 'REOPEN';
const TARGETS: readonly Target[] = ['NEW', 'ASSIGNED', 'IN_PROCESSING', 'FIXED', 'CLOSED', 'CANCEL', 'REQUEST_INFORMATION', 'REOPEN'];

/** Seeds `count` tickets; returns their ids in creation order. */
export async function seedFindingTickets(server: TestServer, count = 24): Promise<string[]> {
  const { services, database } = server.app;
  const em = () => database.orm.em.fork();
  const { customer, otherCustomer, multi, staff, otherStaff, scheduler } = server.users;
  const owners = [customer, otherCustomer, multi];
  const assignees = [staff, otherStaff, multi];
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const owner = owners[i % owners.length];
    const assignee = assignees[Math.floor(i / 3) % assignees.length];
    const id = await services.tickets.create(em(), viewerOf(owner), { content: `${CONTENTS[i % CONTENTS.length]} (#${i})` });
    ids.push(id);
    if (i % 7 === 3) await services.replies.add(em(), viewerOf(scheduler), id, MATCHING_REPLY);
    if (i % 7 === 5) {
      const reply = await services.replies.add(em(), viewerOf(owner), id, DELETED_REPLY);
      await services.replies.delete(em(), viewerOf(owner), reply.id);
    }
    const move = (actor: TestUser, operation: TransitionOperation, staffId?: number) =>
      services.tickets.transition(em(), viewerOf(actor), id, operation, { staffId });
    const target = TARGETS[i % TARGETS.length];
    if (target === 'NEW') continue;
    await move(scheduler, TicketOperation.ASSIGN, assignee.id);
    switch (target) {
      case 'IN_PROCESSING':
        await move(assignee, TicketOperation.START_PROCESSING);
        break;
      case 'FIXED':
        await move(assignee, TicketOperation.FIX);
        break;
      case 'CLOSED':
        await move(assignee, TicketOperation.FIX);
        await move(scheduler, TicketOperation.CLOSE);
        break;
      case 'CANCEL':
        await move(owner, TicketOperation.CANCEL);
        break;
      case 'REQUEST_INFORMATION':
        await move(assignee, TicketOperation.REQUEST_INFORMATION);
        break;
      case 'REOPEN':
        await move(assignee, TicketOperation.FIX);
        await move(owner, TicketOperation.REOPEN);
        break;
      default:
        break;
    }
  }
  return ids;
}

/** Everything the model of a filter needs about a ticket, as the scheduler reads it. */
export interface TicketFacts {
  id: string;
  status: string;
  content: string;
  createdAt: string;
  updatedAt: string;
  customer: { id: string };
  staff: { id: string } | null;
  replies: Array<{ content: string }>;
}

export const FACT_FIELDS = 'id status content createdAt updatedAt customer { id } staff { id } replies { content }';
