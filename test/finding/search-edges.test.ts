import { createTicketAs, errorCode, gql, gqlOk, replyAs } from '../support/http';
import { MAX_TEXT_LENGTH } from '../../src/shared/text';
import { DATABASES, startServer, type TestServer, type TestUser } from '../support/server';

/**
 * `filter.search` at its edges: LIKE's own characters (`%`, `_`, `\`) found literally and never
 * acting as wildcards, mixed scripts in one term, full-width spaces between Chinese words,
 * non-ASCII case, the longest accepted text, odd code points, and a reply whose text stops
 * matching the moment it is deleted. Answers are compared with the list's totalCount and
 * ticketStats, so the three statements agree on every edge.
 */

const SEARCH = `query($search: String) {
  tickets(first: 100, filter: { search: $search }) { totalCount edges { node { id } } }
  ticketStats(filter: { search: $search }) { total }
}`;

describe.each(DATABASES)('search edges (%s)', (kind) => {
  let server: TestServer;
  const ids: Record<string, string> = {};

  const create = (user: TestUser, content: string) => createTicketAs(server, user, content);
  const reply = (user: TestUser, id: string, content: string) => replyAs(server, user, id, content);
  const search = async (text: string, user: TestUser = server.users.scheduler): Promise<string[]> => {
    const data = await gqlOk(server, user, SEARCH, { search: text });
    expect({ text, totalCount: data.tickets.totalCount }).toEqual({ text, totalCount: data.tickets.edges.length });
    expect({ text, total: data.ticketStats.total }).toEqual({ text, total: data.tickets.edges.length });
    return data.tickets.edges.map((edge: { node: { id: string } }) => edge.node.id).sort();
  };

  beforeAll(async () => {
    server = await startServer(kind);
    const { customer, otherCustomer } = server.users;
    ids.path = await create(customer, 'Spooler stuck at C:\\Users\\printer\\queue');
    ids.sale = await create(customer, 'The 50%_off coupon is refused');
    ids.mixed = await create(otherCustomer, 'HP打印机printer驱动坏了');
    ids.french = await create(customer, "L'ÉCRAN reste noir");
    ids.plain = await create(otherCustomer, 'Nothing special here at all');
  });
  afterAll(() => server?.close());

  it('a backslash matches itself, never escaping what follows', async () => {
    expect(await search('\\printer\\')).toEqual([ids.path]);
    expect(await search('C:\\Users')).toEqual([ids.path]);
    // Two backslashes in a row do not occur; as a LIKE escape they would mean one.
    expect(await search('\\\\')).toEqual([]);
    expect(await search('Users\\\\printer')).toEqual([]);
  });

  it('% and _ match themselves, never any text', async () => {
    expect(await search('50%_off')).toEqual([ids.sale]);
    expect(await search('%_o')).toEqual([ids.sale]);
    // As wildcards these would match "50%_off" and "The", "Nothing", ...
    expect(await search('50%off')).toEqual([]);
    expect(await search('5_%')).toEqual([]);
    expect(await search('T_e')).toEqual([]);
    expect(await search('%%')).toEqual([]);
    expect(await search('__')).toEqual([]);
  });

  it('mixed scripts in one term, full-width spaces between Chinese words, non-ASCII case', async () => {
    expect(await search('打印机printer')).toEqual([ids.mixed]);
    expect(await search('机pri')).toEqual([ids.mixed]);
    expect(await search('PRINTER驱动')).toEqual([ids.mixed]);
    // U+3000, the ideographic space Chinese keyboards type, separates terms like a space.
    expect(await search('驱动\u3000打印机')).toEqual([ids.mixed]);
    expect(await search('驱动\u3000扫描仪')).toEqual([]);
    expect(await search('écran')).toEqual([ids.french]);
    expect(await search('Écran NOIR')).toEqual([ids.french]);
  });

  it('the longest accepted text (200 characters, any script) is an empty page, not an error', async () => {
    expect(await search('打'.repeat(200))).toEqual([]);
    expect(await search('%'.repeat(200))).toEqual([]);
    expect(await search(Array.from({ length: 8 }, (_, i) => `${i}`.repeat(24)).join(' '))).toEqual([]);
    const result = await gql(server, server.users.scheduler, SEARCH, { search: '打'.repeat(201) });
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
  });

  it('emoji and lone surrogates are answered, never a server error', async () => {
    const printerEmoji = '\u{1F5A8}\uFE0F';
    const id = await create(server.users.customer, `Broken ${printerEmoji} again`);
    expect(await search(printerEmoji)).toEqual([id]);
    for (const text of ['\uD800x', 'x\uDFFF', '\uD83D\uD83D']) {
      const result = await gql(server, server.users.scheduler, SEARCH, { search: text });
      if (result.errors) expect({ text, code: errorCode(result) }).toEqual({ text, code: 'BAD_USER_INPUT' });
      else expect(result.data?.tickets.edges).toEqual([]);
    }
  });

  it('a reply matches while it exists and stops matching the moment it is deleted; the ticket keeps its own content', async () => {
    const { customer, otherCustomer } = server.users;
    const replyId = await reply(otherCustomer, ids.plain, '补充：打印机卡纸 paper jam');
    expect(await search('卡纸')).toEqual([ids.plain]);
    expect(await search('paper jam', otherCustomer)).toEqual([ids.plain]);
    // Found text never reaches a viewer who may not see the ticket.
    expect(await search('paper jam', customer)).toEqual([]);
    await gqlOk(server, otherCustomer, 'mutation($id: ID!) { deleteReply(id: $id) }', { id: replyId });
    expect(await search('卡纸')).toEqual([]);
    expect(await search('paper jam', otherCustomer)).toEqual([]);
    expect(await search('special')).toEqual([ids.plain]);
  });

  it('a ticket and a reply of the longest text, in Chinese, are written at once and found by a two-character word at their end', async () => {
    // The two-character index (search_bigrams) reads the text once: a per-character substr was
    // quadratic in multi-byte text, 65,536 characters took 96 s of PostgreSQL CPU (a 503 after
    // the statement timeout). Every pair distinct, so the index holds tens of thousands of keys.
    const { customer } = server.users;
    const cjk = (seed: number) => Array.from({ length: MAX_TEXT_LENGTH - 2 }, (_, i) => String.fromCodePoint(0x4e00 + ((i * 7919 + seed) % 20_000))).join('');
    const started = Date.now();
    const id = await create(customer, cjk(1) + '鲸鲨');
    await reply(customer, id, cjk(2) + '鹦鹉');
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await search('鲸鲨')).toContain(id);
    expect(await search('鹦鹉')).toContain(id);
  }, 60_000);
});
