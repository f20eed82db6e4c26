import { Role } from '../user/role';
import type { Viewer } from '../user/viewer';
import { ALL_STATUSES } from './ticket-status';
import { ALL_OPERATIONS, decide, TicketOperation, type TicketFacts } from './ticket.rules';
import { allowedKeys, ruleKey } from './ticket.rules.sql';

/**
 * The premise of ticket.rules.sql.ts: `decide` reads a ticket only through its rule key (status,
 * filed by the viewer, assigned to the viewer) and the viewer only through its roles (and id), so
 * the keys found from one ticket per key are the answer for every ticket, checked here for every
 * set of roles, every operation and every ticket over a spread of ids. The SQL form of the
 * condition is checked against `decide` in PostgreSQL and PGlite by test/graphql/write-statements.test.ts.
 */

const ROLE_SETS: Role[][] = [[]];
for (const role of Object.values(Role)) for (const set of [...ROLE_SETS]) ROLE_SETS.push([...set, role]);

const parse = (keys: string): Set<number> => new Set(keys.slice(1, -1).split(',').filter(Boolean).map(Number));

describe('the rule table as rule keys', () => {
  it('covers every set of roles', () => {
    expect(ROLE_SETS).toHaveLength(2 ** Object.values(Role).length);
  });

  it.each(ROLE_SETS.map((roles) => [roles.join('+') || 'no role', roles] as const))('%s: a ticket is allowed exactly when its key is', (_, roles) => {
    for (const id of [1, 7, 1_000_000]) {
      for (const isAdmin of [false, true]) {
        const viewer: Viewer = { id, username: `user${id}`, roles, isAdmin };
        // Someone else twice (two different ids), the viewer, nobody.
        const people = [id, id + 1, id + 2];
        for (const operation of ALL_OPERATIONS) {
          const allowed = parse(allowedKeys(viewer, operation));
          for (const status of ALL_STATUSES) {
            for (const customerId of people) {
              for (const staffId of [null, ...people]) {
                const ticket: TicketFacts = { status, customerId, staffId };
                expect([operation, ticket, allowed.has(ruleKey(viewer, ticket))]).toEqual([operation, ticket, decide(viewer, operation, ticket).allowed]);
              }
            }
          }
        }
      }
    }
  });

  it('answers the same keys for viewers with the same roles in any order (what it caches on)', () => {
    const a: Viewer = { id: 3, username: 'a', roles: [Role.STAFF, Role.CUSTOMER], isAdmin: false };
    const b: Viewer = { id: 9, username: 'b', roles: [Role.CUSTOMER, Role.STAFF], isAdmin: true };
    for (const operation of ALL_OPERATIONS) expect(allowedKeys(b, operation)).toBe(allowedKeys(a, operation));
  });

  it('allows a staff member to request information only on tickets assigned to them while assigned or in processing', () => {
    const staff: Viewer = { id: 4, username: 'staff', roles: [Role.STAFF], isAdmin: false };
    // Status codes 2 (ASSIGNED) and 8 (IN_PROCESSING), × 4, + 1 for assigned, + 2 when they also filed it.
    expect(allowedKeys(staff, TicketOperation.REQUEST_INFORMATION)).toBe('{9,11,33,35}');
  });
});
