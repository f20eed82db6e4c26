import { DATABASES, startServer, type TestServer } from '../support/server';
import { attempt, errorCode, gql, snapshot, STATUS_NAMES, ticketIn, type OperationName, type StatusName, type TicketActors } from '../support/http';

/**
 * Permission flags tell the truth (docs/contract.md "Permission flags"): for every status and every kind of
 * viewer, a flag that is true means the mutation succeeds (tried on a fresh ticket in that status,
 * since success changes it), and a flag that is false means it is refused (tried on the ticket
 * the flags were read from, which must come out unchanged). The flags in a `tickets` page equal
 * those of `ticket`. Together with mutation-refusals.test.ts, which checks the mutations
 * against the contract's tables, this pins the flags to the contract.
 */

const FLAGS: OperationName[] = ['reply', 'edit', 'assign', 'startProcessing', 'requestInformation', 'fix', 'close', 'reopen', 'cancel'];
const PERMISSIONS = `permissions { ${FLAGS.join(' ')} }`;

type UserName = keyof TestServer['users'];

interface Setup {
  readonly name: string;
  readonly owner: UserName;
  readonly staff: UserName;
  readonly viewers: readonly UserName[];
}

const SETUPS: readonly Setup[] = [
  {
    name: 'filed by customer, assigned to staff',
    owner: 'customer',
    staff: 'staff',
    viewers: ['customer', 'otherCustomer', 'staff', 'otherStaff', 'scheduler', 'multi'],
  },
  {
    // One user who is both the owner and the assignee: the union of both relations.
    name: 'filed by multi, assigned to multi',
    owner: 'multi',
    staff: 'multi',
    viewers: ['multi', 'staff', 'scheduler'],
  },
];

const CASES = SETUPS.flatMap((setup) => STATUS_NAMES.map((status) => [setup.name, status, setup] as const));

const NO_FLAGS = Object.fromEntries(FLAGS.map((flag) => [flag, false])) as Record<OperationName, boolean>;

describe.each(DATABASES)('permission flags agree with the mutations (%s)', (kind) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server?.close());

  const actorsOf = (setup: Setup): TicketActors => ({
    owner: server.users[setup.owner],
    staff: server.users[setup.staff],
    scheduler: server.users.scheduler,
  });

  /** The viewer's flags on the ticket; undefined when the viewer may not see it (FORBIDDEN, not listed). */
  async function flagsOf(viewer: UserName, id: string, status: StatusName): Promise<Record<OperationName, boolean> | undefined> {
    const user = server.users[viewer];
    const detail = await gql(server, user, `query($id: ID!) { ticket(id: $id) { ${PERMISSIONS} } }`, { id });
    const list = await gql(
      server,
      user,
      `query($s: [TicketStatus!]) { tickets(first: 100, filter: { status: $s }) { edges { node { id ${PERMISSIONS} } } } }`,
      {
        s: [status],
      },
    );
    const listed = list.data?.tickets.edges.find((edge: { node: { id: string } }) => edge.node.id === id)?.node;
    if (errorCode(detail) === 'FORBIDDEN') {
      expect(listed).toBeUndefined();
      return undefined;
    }
    expect(detail.errors).toBeUndefined();
    // A page and a detail answer the same flags.
    expect(listed?.permissions).toEqual(detail.data?.ticket.permissions);
    return detail.data?.ticket.permissions;
  }

  it.each(CASES)('%s, in %s: every true flag is a mutation that succeeds, every false one is refused', async (_, status, setup) => {
    const actors = actorsOf(setup);
    const reference = await ticketIn(server, status, actors);
    const before = await snapshot(server, server.users.scheduler, reference.id);

    const flags: Record<string, Record<OperationName, boolean>> = {};
    const visible = new Set<UserName>();
    for (const viewer of setup.viewers) {
      const answer = await flagsOf(viewer, reference.id, status);
      if (answer) visible.add(viewer);
      flags[viewer] = answer ?? NO_FLAGS;
    }

    const outcomes: Record<string, Record<string, boolean>> = Object.fromEntries(setup.viewers.map((viewer) => [viewer, visible.has(viewer) ? {} : NO_FLAGS]));
    const refusals: string[] = [];
    const run = async (viewer: UserName, flag: OperationName, id: string) => {
      const result = await attempt(server, server.users[viewer], flag, { id, staffId: server.users.otherStaff.id });
      outcomes[viewer][flag] = !result.errors;
      const code = errorCode(result);
      if (result.errors && code !== 'FORBIDDEN' && code !== 'CONFLICT') refusals.push(`${viewer} ${flag}: ${code} ${result.errors[0].message}`);
    };
    // Viewers who may not see the ticket have no flags, and mutation-refusals.test.ts already
    // tries every mutation as each of them in every status (all FORBIDDEN): not repeated here.
    const cells = [...visible].flatMap((viewer) => FLAGS.map((flag) => ({ viewer, flag, allowed: flags[viewer][flag] })));

    // False flags first, on the ticket the flags were read from: each must be refused and leave it alone.
    await Promise.all(cells.filter((cell) => !cell.allowed).map((cell) => run(cell.viewer, cell.flag, reference.id)));
    expect(await snapshot(server, server.users.scheduler, reference.id)).toEqual(before);
    // True flags: replies and edits keep the status, so they may share the reference ticket; a
    // transition changes it, so each gets a fresh ticket in the same status.
    await Promise.all(
      cells
        .filter((cell) => cell.allowed)
        .map(async (cell) => {
          const keepsStatus = cell.flag === 'reply' || cell.flag === 'edit';
          await run(cell.viewer, cell.flag, keepsStatus ? reference.id : (await ticketIn(server, status, actors)).id);
        }),
    );
    expect(outcomes).toEqual(flags);
    // A refusal is FORBIDDEN or CONFLICT, nothing else.
    expect(refusals).toEqual([]);
  });

  it('some flag is true somewhere for every operation (the table above is not vacuous)', async () => {
    const seen = new Set<OperationName>();
    for (const status of ['NEW', 'ASSIGNED', 'FIXED'] as const) {
      const { id } = await ticketIn(server, status, actorsOf(SETUPS[1]));
      for (const viewer of ['multi', 'scheduler'] as const) {
        const flags = (await flagsOf(viewer, id, status)) ?? NO_FLAGS;
        for (const flag of FLAGS) if (flags[flag]) seen.add(flag);
      }
    }
    expect([...seen].sort()).toEqual([...FLAGS].sort());
  });
});
