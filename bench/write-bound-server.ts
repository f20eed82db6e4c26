import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { createServer } from 'node:http';
import path from 'node:path';
import { Pool } from 'pg';
import { EVENT_ORDER_LOCK_KEY } from '../src/modules/event/event-log';
import { STATUS_CODE, TicketStatus } from '../src/modules/ticket/ticket-status';
import { OPERATION_RULES, TicketOperation } from '../src/modules/ticket/ticket.rules';
import { POSTGRES_CHANNEL } from '../src/realtime/postgres.event-bus';
import { uuidv7 } from '../src/shared/uuid';
import { announceReady, serveCommands } from './ipc';

/**
 * The write bound as a server (`npm run bench:write`): the cheapest correct write, one autocommit
 * statement per request over node:http and the driver, nothing else (no framework, no GraphQL,
 * no authentication: the actor is fixed by WRITE_STAFF_ID / WRITE_CUSTOMER_ID).
 *
 * One statement locks the ticket's row while checking the rule (the actor's relation and the
 * status the operation may start from, re-checked by PostgreSQL on the locked row version),
 * updates it, appends the history entry (transitions) or the reply, appends the event under the
 * event-order lock (as the product does) and queues the NOTIFY. Nothing is read back: the answer
 * is built from what the statement returned.
 *
 * Paths: /transition and /reply; /transition-unordered is the same transition without the
 * event-order lock (what that lock costs, and whether it turns concurrent writers into a queue).
 */

const TO_CODE = {
  requestInformation: STATUS_CODE[TicketStatus.REQUEST_INFORMATION],
  startProcessing: STATUS_CODE[TicketStatus.IN_PROCESSING],
} as const;
const FROM_CODES = {
  requestInformation: `{${OPERATION_RULES[TicketOperation.REQUEST_INFORMATION].from.map((status) => STATUS_CODE[status]).join(',')}}`,
  startProcessing: `{${OPERATION_RULES[TicketOperation.START_PROCESSING].from.map((status) => STATUS_CODE[status]).join(',')}}`,
} as const;
const REPLY_FROM = `{${OPERATION_RULES[TicketOperation.REPLY].from.map((status) => STATUS_CODE[status]).join(',')}}`;
const MAX_REPLIES = 1_000;

const transitionSql = (ordered: boolean): string => `
  with locked as (
    select id from tickets where id = $1 and staff_id = $2 and status = any($3::smallint[]) for update
  ), changed as (
    update tickets t set status = $4, updated_at = now() from locked where t.id = locked.id
    returning t.id, t.status, t.updated_at
  ), history as (
    insert into ticket_history (id, ticket_id, actor_id, status, at)
    select $5::uuid, id, $2, status, updated_at from changed
  )${ordered ? `, ordered as (select pg_advisory_xact_lock(${EVENT_ORDER_LOCK_KEY}::bigint) from changed)` : ''}
  , event as (
    insert into ticket_events (kind, ticket_id, actor_id, at)
    select 'STATUS_CHANGED', changed.id, $2, changed.updated_at from changed${ordered ? ', ordered' : ''}
    returning seq, ticket_id
  )
  select changed.id, changed.status, (extract(epoch from changed.updated_at) * 1000)::float8 as updated_at,
    (select count(pg_notify('${POSTGRES_CHANNEL}', event.seq || ':' || event.ticket_id)) from event) as notified
  from changed`;

const REPLY_SQL = `
  with locked as (
    select id from tickets where id = $1 and customer_id = $2 and status = any($3::smallint[]) and reply_count < ${MAX_REPLIES} for update
  ), reply as (
    insert into replies (id, ticket_id, author_id, content, created_at)
    select $4::uuid, locked.id, $2, $5, now() from locked
    returning id, ticket_id, content, created_at
  ), touched as (
    update tickets t set updated_at = reply.created_at from reply where t.id = reply.ticket_id
  ), ordered as (select pg_advisory_xact_lock(${EVENT_ORDER_LOCK_KEY}::bigint) from reply)
  , event as (
    insert into ticket_events (kind, ticket_id, actor_id, reply_id, at)
    select 'REPLY_ADDED', reply.ticket_id, $2, reply.id, reply.created_at from reply, ordered
    returning seq, ticket_id
  )
  select reply.id, reply.content, (extract(epoch from reply.created_at) * 1000)::float8 as created_at,
    (select count(pg_notify('${POSTGRES_CHANNEL}', event.seq || ':' || event.ticket_id)) from event) as notified
  from reply`;

type Row = Record<string, unknown>;
type Run = (name: string, sql: string, params: unknown[]) => Promise<Row[]>;

async function openDatabase(): Promise<{ run: Run; close: () => Promise<void> }> {
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) {
    // The product's pool size.
    const pool = new Pool({ connectionString: databaseUrl, max: 10 });
    return {
      run: async (name, text, values) => (await pool.query<Row>({ name, text, values })).rows,
      close: () => pool.end(),
    };
  }
  const dataDir = process.env.DATA_DIR;
  if (!dataDir) throw new Error('DATA_DIR or DATABASE_URL is required');
  const pglite = new PGlite({ dataDir: path.join(dataDir, 'pglite'), extensions: { pg_trgm } });
  await pglite.waitReady;
  return {
    run: async (_name, sql, values) => (await pglite.query<Row>(sql, values)).rows,
    close: () => pglite.close(),
  };
}

interface Body {
  ids?: string[];
  id?: string;
  operation?: keyof typeof TO_CODE;
  ticketId?: string;
  content?: string;
}

async function main(): Promise<void> {
  const staffId = Number(process.env.WRITE_STAFF_ID);
  const customerId = Number(process.env.WRITE_CUSTOMER_ID);
  if (!Number.isInteger(staffId) || !Number.isInteger(customerId)) throw new Error('WRITE_STAFF_ID and WRITE_CUSTOMER_ID are required');
  const database = await openDatabase();
  const ordered = transitionSql(true);
  const unordered = transitionSql(false);
  let queries = 0;

  const answer = (response: import('node:http').ServerResponse, status: number, body: string) => {
    response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    response.end(body);
  };

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.once('end', () => {
      queries++;
      let body: Body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Body;
      } catch {
        answer(response, 400, '{"error":"body must be JSON"}');
        return;
      }
      const url = request.url ?? '';
      let work: Promise<string>;
      if (url === '/statuses') {
        // Not measured: where each ticket of the walk is now, before a run.
        work = database
          .run('write-statuses', 'select id, status from tickets where id = any($1::uuid[])', [`{${(body.ids ?? []).join(',')}}`])
          .then((rows) =>
            JSON.stringify(
              Object.fromEntries(rows.map((row) => [row.id, row.status === TO_CODE.requestInformation ? TicketStatus.REQUEST_INFORMATION : 'OTHER'])),
            ),
          );
      } else if (url === '/reply') {
        work = database.run('write-reply', REPLY_SQL, [body.ticketId, customerId, REPLY_FROM, uuidv7(), body.content]).then((rows) => {
          const row = rows[0];
          if (!row) throw new Error('refused');
          return JSON.stringify({ data: { addReply: { id: row.id, content: row.content, createdAt: new Date(Number(row.created_at)).toISOString() } } });
        });
      } else {
        const operation = body.operation === 'startProcessing' ? 'startProcessing' : 'requestInformation';
        const sql = url === '/transition-unordered' ? unordered : ordered;
        work = database
          .run(url === '/transition-unordered' ? 'write-unordered' : 'write-transition', sql, [
            body.id,
            staffId,
            FROM_CODES[operation],
            TO_CODE[operation],
            uuidv7(),
          ])
          .then((rows) => {
            const row = rows[0];
            if (!row) throw new Error('refused');
            const status = row.status === TO_CODE.requestInformation ? TicketStatus.REQUEST_INFORMATION : TicketStatus.IN_PROCESSING;
            return JSON.stringify({ data: { [operation]: { id: row.id, status, updatedAt: new Date(Number(row.updated_at)).toISOString() } } });
          });
      }
      work.then(
        (text) => answer(response, 200, text),
        (error: unknown) => answer(response, 409, JSON.stringify({ error: error instanceof Error ? error.message : String(error) })),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');

  serveCommands({
    count() {
      const counted = queries;
      queries = 0;
      return counted;
    },
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await database.close();
    },
  });
  announceReady(`http://127.0.0.1:${address.port}`);
}

main().catch((error) => {
  process.stderr.write(`write bound server failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
