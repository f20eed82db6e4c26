import type { EntityManager } from '@mikro-orm/core';
import { randomBytes } from 'node:crypto';
import { hashPassword } from '../src/modules/auth/password';
import { STATUS_CODE, TicketStatus } from '../src/modules/ticket/ticket-status';
import { decide, TicketOperation, transitionInto, type TicketFacts } from '../src/modules/ticket/ticket.rules';
import { Role } from '../src/modules/user/role';
import type { Viewer } from '../src/modules/user/viewer';

/**
 * The benchmark's data set: 50 users of every role and `tickets` tickets with 5 replies and 5
 * history entries each, inserted in bulk (a few statements, not one per row).
 *
 * The rows are not random junk: every ticket's history is a path through the workflow that
 * `decide` (the product's rule table) accepts step by step, the ticket's status, staff and
 * scheduler are what that path leaves, and every reply is written by someone `decide` lets reply
 * at that moment. Generation throws if any step is refused.
 */

/** Appended to one ticket in 500 (the search target's needle; no seeded word contains it). */
export const SEARCHED_PHRASE = '我的打印机坏了';

/** Every seeded user has this password; it is hashed once (scrypt is slow on purpose). */
export const BENCH_PASSWORD = 'bench password 1';

export interface BenchUser {
  readonly id: number;
  readonly username: string;
  readonly roles: readonly Role[];
}

export interface SeedResult {
  /** The viewers the read targets act as. */
  readonly scheduler: BenchUser;
  readonly customer: BenchUser;
  readonly staff: BenchUser;
  /** The staff member whose old tickets the transition target moves back and forth. */
  readonly opsStaff: BenchUser;
  /** The customer who replies to their old open tickets in the addReply target. */
  readonly opsCustomer: BenchUser;
  /** The newest ticket (the detail target). */
  readonly detailTicketId: string;
  /** Old tickets assigned to opsStaff, in ASSIGNED, IN_PROCESSING or REQUEST_INFORMATION. */
  readonly transitionPool: readonly string[];
  /** Old open tickets of opsCustomer. */
  readonly replyPool: readonly string[];
  readonly counts: { users: number; tickets: number; replies: number; history: number };
}

/** A small deterministic PRNG (mulberry32): the same data set on every run. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A UUID v7 carrying `ms`: rows sort by the time they claim, as the product's own ids do. */
function uuidv7At(ms: number): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const WORDS = (
  'printer login password reset email invoice account screen laptop network vpn error page slow ' +
  'report export import file upload download crash update install license server database backup ' +
  'restore mobile app notification calendar meeting room phone headset keyboard mouse monitor cable ' +
  'wifi office access badge door shipment order refund payment card customer portal dashboard chart ' +
  'timeout message sync folder permission share link browser cache cookie certificate expired renew ' +
  'the a is not when after before since again still please could you check this that it my our ' +
  'works fails shows stops starts opens closes appears disappears today yesterday morning every time'
).split(' ');

function text(rng: () => number, minWords: number, maxWords: number): string {
  const count = minWords + Math.floor(rng() * (maxWords - minWords + 1));
  const words: string[] = [];
  for (let i = 0; i < count; i++) words.push(WORDS[Math.floor(rng() * WORDS.length)]!);
  const sentence = words.join(' ');
  return `${sentence[0]!.toUpperCase()}${sentence.slice(1)}.`;
}

type Actor = 'customer' | 'staff' | 'scheduler';
type Step = readonly [TicketStatus, Actor];

const S = TicketStatus;
const OPENING: readonly Step[] = [
  [S.NEW, 'customer'],
  [S.ASSIGNED, 'scheduler'],
];

/** Five-entry histories, each a legal walk through the workflow (checked by `decide` below). */
const PATHS: Readonly<Record<string, readonly Step[]>> = {
  closed: [...OPENING, [S.IN_PROCESSING, 'staff'], [S.FIXED, 'staff'], [S.CLOSED, 'scheduler']],
  inProcessing: [...OPENING, [S.IN_PROCESSING, 'staff'], [S.REQUEST_INFORMATION, 'staff'], [S.IN_PROCESSING, 'staff']],
  fixed: [...OPENING, [S.REQUEST_INFORMATION, 'scheduler'], [S.IN_PROCESSING, 'staff'], [S.FIXED, 'staff']],
  waiting: [...OPENING, [S.REQUEST_INFORMATION, 'staff'], [S.IN_PROCESSING, 'staff'], [S.REQUEST_INFORMATION, 'scheduler']],
  reopened: [...OPENING, [S.FIXED, 'staff'], [S.CLOSED, 'scheduler'], [S.REOPEN, 'customer']],
  cancelled: [...OPENING, [S.IN_PROCESSING, 'staff'], [S.REQUEST_INFORMATION, 'staff'], [S.CANCEL, 'customer']],
  reassigned: [...OPENING, [S.FIXED, 'staff'], [S.REOPEN, 'customer'], [S.ASSIGNED, 'scheduler']],
};

/** How often each path occurs among ordinary tickets (most tickets end closed). */
const PATH_WEIGHTS: Readonly<Record<keyof typeof PATHS, number>> = {
  closed: 30,
  inProcessing: 15,
  fixed: 12,
  waiting: 12,
  reopened: 8,
  cancelled: 10,
  reassigned: 13,
};

/** Paths that end where the assignee can keep alternating requestInformation / startProcessing. */
const TRANSITION_PATHS = ['inProcessing', 'waiting', 'reassigned'];
/** Paths that end where the customer can still reply. */
const OPEN_PATHS = ['inProcessing', 'fixed', 'waiting', 'reopened', 'reassigned'];

const MINUTE = 60_000;
/** Tickets are filed this far apart; each one's history spans 4 hours after it is filed. */
const TICKET_SPACING_MS = 15 * MINUTE;
const HISTORY_SPACING_MS = 60 * MINUTE;
/** Replies (minutes after filing) and who writes them: all before the third status change. */
const REPLY_PLAN: ReadonlyArray<readonly [number, Actor]> = [
  [10, 'customer'],
  [70, 'staff'],
  [80, 'customer'],
  [130, 'scheduler'],
  [140, 'staff'],
];

interface UserSpec {
  readonly username: string;
  readonly roles: Role[];
}

function userSpecs(): UserSpec[] {
  const specs: UserSpec[] = [];
  const add = (prefix: string, count: number, roles: Role[]) => {
    for (let i = 1; i <= count; i++) specs.push({ username: `bench-${prefix}-${i}`, roles });
  };
  add('scheduler', 5, [Role.SCHEDULER]);
  add('staff', 12, [Role.STAFF]);
  add('customer', 30, [Role.CUSTOMER]);
  add('multi', 3, [Role.CUSTOMER, Role.STAFF]);
  return specs;
}

interface TicketRow {
  id: string;
  customer_id: number;
  scheduler_id: number | null;
  staff_id: number | null;
  content: string;
  status: number;
  created_at: string;
  updated_at: string;
}

interface ReplyRow {
  id: string;
  ticket_id: string;
  author_id: number;
  content: string;
  created_at: string;
}

interface HistoryRow {
  id: string;
  ticket_id: string;
  actor_id: number;
  status: number;
  at: string;
}

const asViewer = (user: BenchUser): Viewer => ({ id: user.id, username: user.username, roles: user.roles, isAdmin: false });

function assertAllowed(user: BenchUser, operation: TicketOperation, facts: TicketFacts, where: string): void {
  const decision = decide(asViewer(user), operation, facts);
  if (!decision.allowed) throw new Error(`Seed bug: ${where}: ${user.username} may not ${operation} (${decision.message})`);
}

interface Plan {
  tickets: TicketRow[];
  replies: ReplyRow[];
  history: HistoryRow[];
  transitionPool: string[];
  replyPool: string[];
}

function planTickets(count: number, users: BenchUser[], roles: SeedRoles): Plan {
  const rng = prng(20261128);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
  const customers = users.filter((user) => user.roles.includes(Role.CUSTOMER));
  const staff = users.filter((user) => user.roles.includes(Role.STAFF));
  const schedulers = users.filter((user) => user.roles.includes(Role.SCHEDULER));
  const pathNames = Object.keys(PATH_WEIGHTS);
  const totalWeight = pathNames.reduce((sum, name) => sum + PATH_WEIGHTS[name]!, 0);
  const weightedPath = (): string => {
    let roll = rng() * totalWeight;
    for (const name of pathNames) {
      roll -= PATH_WEIGHTS[name]!;
      if (roll < 0) return name;
    }
    return pathNames[0]!;
  };

  const plan: Plan = { tickets: [], replies: [], history: [], transitionPool: [], replyPool: [] };
  // The oldest tenth is where the write targets work: far from every page the read targets load,
  // so reads measure the same pages in every round however many writes ran before.
  const opsZone = Math.floor(count / 10);
  const start = Date.now() - count * TICKET_SPACING_MS - 24 * 60 * MINUTE;

  for (let i = 0; i < count; i++) {
    const createdAt = start + i * TICKET_SPACING_MS;
    let customer: BenchUser;
    let assignee: BenchUser;
    let pathName: string;
    let pool: string[] | undefined;
    if (i < opsZone && i % 2 === 0) {
      pathName = pick(TRANSITION_PATHS);
      assignee = roles.opsStaff;
      customer = pick(customers.filter((user) => user !== roles.customer && user !== assignee));
      pool = plan.transitionPool;
    } else if (i < opsZone) {
      pathName = pick(OPEN_PATHS);
      customer = roles.opsCustomer;
      assignee = pick(staff.filter((user) => user !== roles.staff && user !== customer));
      pool = plan.replyPool;
    } else {
      pathName = weightedPath();
      // The measured customer files a steady share, so their first page is a full 50.
      customer = rng() < 0.04 ? roles.customer : pick(customers.filter((user) => user !== roles.customer));
      assignee = pick(staff.filter((user) => user !== customer));
    }

    const id = uuidv7At(createdAt);
    pool?.push(id);

    // Walk the path: each step must be allowed by the rule table from the state the last one left.
    const actorFor = (actor: Actor): BenchUser => (actor === 'customer' ? customer : actor === 'staff' ? assignee : pick(schedulers));
    let facts: TicketFacts = { status: S.NEW, customerId: customer.id, staffId: null };
    let schedulerId: number | null = null;
    const statusAt: Array<{ at: number; facts: TicketFacts }> = [];
    PATHS[pathName]!.forEach(([status, actorKind], step) => {
      const at = createdAt + step * HISTORY_SPACING_MS;
      const actor = actorFor(actorKind);
      if (step > 0) {
        const operation = transitionInto(status);
        if (!operation) throw new Error(`Seed bug: no operation moves a ticket into ${status}`);
        assertAllowed(actor, operation, facts, `ticket ${i} step ${step}`);
        if (operation === TicketOperation.ASSIGN) {
          facts = { ...facts, staffId: assignee.id };
          schedulerId = actor.id;
        }
      }
      facts = { ...facts, status };
      statusAt.push({ at, facts });
      plan.history.push({ id: uuidv7At(at), ticket_id: id, actor_id: actor.id, status: STATUS_CODE[status], at: new Date(at).toISOString() });
    });

    for (const [minutes, actorKind] of REPLY_PLAN) {
      const at = createdAt + minutes * MINUTE;
      const author = actorFor(actorKind);
      const current = statusAt.filter((entry) => entry.at <= at).at(-1)!.facts;
      assertAllowed(author, TicketOperation.REPLY, current, `ticket ${i} reply at +${minutes} min`);
      plan.replies.push({ id: uuidv7At(at), ticket_id: id, author_id: author.id, content: text(rng, 8, 45), created_at: new Date(at).toISOString() });
    }

    const last = statusAt.at(-1)!;
    plan.tickets.push({
      id,
      customer_id: customer.id,
      scheduler_id: schedulerId,
      staff_id: last.facts.staffId,
      // One ticket in 500 is about a broken printer, in Chinese: what the search target looks for.
      content: i % 500 === 250 ? `${text(rng, 20, 90)} ${SEARCHED_PHRASE}` : text(rng, 20, 90),
      status: STATUS_CODE[last.facts.status],
      created_at: new Date(createdAt).toISOString(),
      updated_at: new Date(last.at).toISOString(),
    });
  }
  return plan;
}

interface SeedRoles {
  scheduler: BenchUser;
  customer: BenchUser;
  staff: BenchUser;
  opsStaff: BenchUser;
  opsCustomer: BenchUser;
}

const CHUNK = 2000;

/** Inserts rows with one statement per chunk: the rows travel as one JSON parameter. */
async function insertJson(em: EntityManager, table: string, columns: string, rows: readonly object[]): Promise<void> {
  const names = columns
    .split(',')
    .map((column) => column.trim().split(/\s+/)[0])
    .join(', ');
  for (let offset = 0; offset < rows.length; offset += CHUNK) {
    const chunk = rows.slice(offset, offset + CHUNK);
    await em
      .getConnection()
      .execute(`insert into ${table} (${names}) select ${names} from json_to_recordset(?::json) as x(${columns})`, [JSON.stringify(chunk)], 'run');
  }
}

/** Seeds an empty, migrated database. */
export async function seedDatabase(em: EntityManager, ticketCount: number): Promise<SeedResult> {
  const connection = em.getConnection();
  const existing: Array<{ count: number }> = await connection.execute('select count(*)::int as count from tickets', [], 'all');
  if (Number(existing[0]?.count) > 0) throw new Error('The benchmark seeds an empty database; this one has tickets');

  const passwordHash = await hashPassword(BENCH_PASSWORD);
  const specs = userSpecs();
  const inserted: Array<{ id: number; username: string }> = await connection.execute(
    `insert into users (username, password_hash, roles)
     select x.username, ?, string_to_array(x.roles, ',') from json_to_recordset(?::json) as x(username text, roles text)
     returning id, username`,
    [passwordHash, JSON.stringify(specs.map((spec) => ({ username: spec.username, roles: spec.roles.join(',') })))],
    'all',
  );
  const idOf = new Map(inserted.map((row) => [row.username, Number(row.id)] as const));
  const users: BenchUser[] = specs.map((spec) => ({ id: idOf.get(spec.username)!, username: spec.username, roles: spec.roles }));
  const byName = (username: string): BenchUser => users.find((user) => user.username === username)!;
  const roles: SeedRoles = {
    scheduler: byName('bench-scheduler-1'),
    customer: byName('bench-customer-1'),
    staff: byName('bench-staff-1'),
    opsStaff: byName('bench-staff-2'),
    opsCustomer: byName('bench-customer-2'),
  };

  const plan = planTickets(ticketCount, users, roles);
  await insertJson(
    em,
    'tickets',
    'id uuid, customer_id int, scheduler_id int, staff_id int, content text, status smallint, created_at timestamptz, updated_at timestamptz',
    plan.tickets,
  );
  await insertJson(em, 'replies', 'id uuid, ticket_id uuid, author_id int, content text, created_at timestamptz', plan.replies);
  await insertJson(em, 'ticket_history', 'id uuid, ticket_id uuid, actor_id int, status smallint, at timestamptz', plan.history);
  // Fresh statistics, as a database that has been in use would have.
  await connection.execute('analyze', [], 'run');

  return {
    ...roles,
    detailTicketId: plan.tickets.at(-1)!.id,
    transitionPool: plan.transitionPool,
    replyPool: plan.replyPool,
    counts: { users: users.length, tickets: plan.tickets.length, replies: plan.replies.length, history: plan.history.length },
  };
}
