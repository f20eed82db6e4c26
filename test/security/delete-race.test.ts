import { legacy } from '../support/legacy-client';
import { createTicketAs, errorCode, gql, gqlOk } from '../support/http';
import { DATABASES, startServer, type TestServer } from '../support/server';

/**
 * Issue 9, "Deleted means gone": deleting one reply from several requests at once gives exactly
 * one success and one REPLY_DELETED event. The service locks the ticket, then marks the reply
 * deleted with one conditional update (`… where deleted_at is null`): the others find it gone
 * (NOT_FOUND / 404) and write nothing.
 */
const ROUNDS = 4;
const RACERS = 16;

describe.each(DATABASES)('deleting one reply concurrently (%s)', (kind) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(async () => {
    await server?.close();
  });

  it(`gives one success and one REPLY_DELETED event (${ROUNDS} rounds of ${RACERS}, GraphQL and legacy)`, async () => {
    const { customer } = server.users;
    const id = await createTicketAs(server, customer);
    for (let round = 0; round < ROUNDS; round++) {
      const replyId = (await gqlOk(server, customer, 'mutation($id: ID!) { addReply(ticketId: $id, content: "delete me") { id } }', { id })).addReply
        .id as string;
      const outcomes = await Promise.all(
        Array.from({ length: RACERS }, async (_, i) => {
          if (i % 2) {
            const result = await gql(server, customer, 'mutation($id: ID!) { deleteReply(id: $id) }', { id: replyId });
            return result.errors?.length ? errorCode(result) : 'ok';
          }
          const response = await legacy(server, customer, 'ticket-reply-delete', { uuid: id, 'reply-uuid': replyId });
          return response.status === 200 ? 'ok' : response.status === 404 ? 'NOT_FOUND' : `${response.status} ${JSON.stringify(response.body)}`;
        }),
      );
      expect(outcomes.filter((outcome) => outcome === 'ok')).toHaveLength(1);
      expect(outcomes.filter((outcome) => outcome !== 'ok')).toEqual(Array(RACERS - 1).fill('NOT_FOUND'));
      const rows = await server.app.database.orm.em
        .fork()
        .getConnection()
        .execute<Array<{ count: number }>>("select count(*)::integer as count from ticket_events where reply_id = ? and kind = 'REPLY_DELETED'", [replyId]);
      expect(rows[0].count).toBe(1);
    }
  });
});
