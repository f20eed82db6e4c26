import 'reflect-metadata';
import { execute, parse, type OperationDefinitionNode } from 'graphql';
import { compileQuery, isCompiledQuery } from 'graphql-jit';
import { isoText } from '../src/graphql/date-time';
import { buildGraphQLSchema } from '../src/graphql/schema';
import type { HistoryView, ReplyView, TicketView, UserSummary } from '../src/modules/ticket/ticket.query';
import { Role } from '../src/modules/user/role';
import { TicketStatus } from '../src/modules/ticket/ticket-status';
import { LIST_PAGE } from './queries';

/**
 * `node dist-bench/bench/exec-bench.js [pages]`: the server's CPU per list page for the parts that
 * do not depend on the database or the network, measured in one process without load (issue 15,
 * docs/performance.md "Execution measured alone"): GraphQL execution of the list page's document
 * (graphql-jit, as the product runs it, and graphql-js for reference) over views shaped as the
 * reader returns them (50 tickets, 5 replies and 5 history entries each, 50 users, mixed
 * Chinese and ASCII text), then the response text as Apollo and Fastify make it
 * (`JSON.stringify(result) + '\n'`, `Buffer.byteLength`); and the page's 550 DateTime values
 * formatted by `Date#toISOString` and by `isoText`. Each figure is the median of 7 batches, the
 * kinds alternating; CPU time of the process (`process.cpuUsage`), garbage collection included.
 */

const pages = Number(process.argv[2] ?? 1500);

function views(): TicketView[] {
  const users: UserSummary[] = Array.from({ length: 50 }, (_, i) => ({
    id: i + 1,
    username: `bench-user-${i + 1}`,
    roles: i % 3 ? [Role.CUSTOMER] : [Role.STAFF, Role.SCHEDULER],
  }));
  const text = '打印机坏了，请帮忙看看。The printer on the third floor is broken, please help. ';
  const at = 1_764_312_345_123.456;
  return Array.from({ length: 50 }, (_, t) => {
    const id = `0193${String(t).padStart(4, '0')}-aaaa-7bbb-8ccc-${String(t * 7919).padStart(12, '0')}`;
    const replies: ReplyView[] = Array.from({ length: 5 }, (_, r) => ({
      id: `${id.slice(0, -2)}r${r}`,
      ticketId: id,
      content: text,
      author: users[(t + r) % 50]!,
      createdAt: at + t * 60_000 + r * 1_000,
    }));
    const history: HistoryView[] = Array.from({ length: 5 }, (_, h) => ({
      id: `${id.slice(0, -2)}h${h}`,
      status: TicketStatus.ASSIGNED,
      actor: users[(t + h + 7) % 50]!,
      at: at + t * 60_000 + h * 500,
    }));
    return {
      id,
      status: TicketStatus.ASSIGNED,
      content: text.repeat(2),
      imageIds: [],
      customerId: users[t % 50]!.id,
      staffId: users[(t + 1) % 50]!.id,
      customer: users[t % 50]!,
      scheduler: users[(t + 2) % 50]!,
      staff: users[(t + 1) % 50]!,
      replies,
      history,
      createdAt: at + t * 60_000,
      updatedAt: at + t * 60_000 + 5_000,
    };
  });
}

async function main(): Promise<void> {
  const schema = await buildGraphQLSchema();
  const tickets = views();
  const viewer = { id: 3, roles: [Role.SCHEDULER, Role.STAFF] };
  const context = () => ({
    em: {},
    publicUrl: 'http://127.0.0.1',
    services: { reader: { list: async () => ({ tickets, hasMore: true }) } },
    viewer: async () => viewer,
    resolvedViewer: () => viewer,
  });
  const document = parse(LIST_PAGE);
  const compiled = compileQuery(schema, document, (document.definitions[0] as OperationDefinitionNode).name?.value);
  if (!isCompiledQuery(compiled)) throw new Error('graphql-jit did not compile the list page');
  const jit = () => compiled.query(undefined, context(), {});
  const js = () => execute({ schema, document, contextValue: context() });
  const reference = JSON.stringify(await js());
  if (JSON.stringify(await jit()) !== reference) throw new Error('graphql-jit and graphql-js answer differently');
  const body = (result: unknown) => Buffer.byteLength(`${JSON.stringify(result)}\n`);
  const dates = tickets.flatMap((t) => [t.createdAt, t.updatedAt, ...t.replies!.map((r) => r.createdAt), ...t.history!.map((h) => h.at)]);

  const kinds: Array<[string, () => unknown]> = [
    ['graphql-jit execution', jit],
    ['graphql-jit execution + response text', async () => body(await jit())],
    ['graphql-js execution', js],
    [`${dates.length} DateTime values, toISOString`, () => dates.map((ms) => new Date(ms).toISOString())],
    [`${dates.length} DateTime values, isoText`, () => dates.map(isoText)],
  ];
  const samples = new Map<string, number[]>(kinds.map(([name]) => [name, []]));
  for (const [, run] of kinds) for (let i = 0; i < 200; i++) await run();
  for (let batch = 0; batch < 7; batch++) {
    for (const [name, run] of kinds) {
      const start = process.cpuUsage();
      for (let i = 0; i < pages; i++) await run();
      const used = process.cpuUsage(start);
      samples.get(name)!.push((used.user + used.system) / 1000 / pages);
    }
  }
  console.log(`Response: ${Buffer.byteLength(reference)} bytes; ${pages} pages per batch, 7 batches, median (range) CPU ms per page`);
  for (const [name, values] of samples) {
    values.sort((a, b) => a - b);
    console.log(`${name.padEnd(42)} ${values[3]!.toFixed(3)} (${values[0]!.toFixed(3)}–${values[6]!.toFixed(3)})`);
  }
}

void main();
