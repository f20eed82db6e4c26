import fc from 'fast-check';
import { DomainError, ErrorCode } from '../shared/errors';
import { TicketStatus } from '../modules/ticket/ticket-status';
import { TicketOperation } from '../modules/ticket/ticket.rules';
import { Role } from '../modules/user/role';
import { findLegacyAction, LEGACY_ACTION_NAMES } from './legacy-actions';
import {
  asFields,
  checkCreateStatus,
  describe as describeValue,
  MAX_LEGACY_PAGE_SIZE,
  readOperator,
  readOptionalUserId,
  readPaging,
  readStatusFilter,
  readTransition,
  readUuid,
  renameField,
  type LegacyFields,
} from './legacy-fields';

/**
 * Property tests of the legacy field readers: for any body a client can send, each reader either
 * returns a well-formed value or throws BAD_INPUT naming exactly the field it reads, never another
 * exception (which the endpoint would answer with a 500).
 */

/** The field names legacy requests use, plus a few that only look like them. */
const FIELD_NAMES = [
  'action',
  'credential',
  'uuid',
  'content',
  'images',
  'status',
  'staff-id',
  'operator',
  'page',
  'page-size',
  'reply',
  'reply-uuid',
  'userid',
  'Status',
  '__proto__',
  'constructor',
  'toString',
];

/** Values of every JSON type and the near misses legacy clients send. */
const fieldValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    'ALL',
    'all',
    0,
    '0',
    -0,
    'new',
    'ASSIGNED',
    'in processing',
    'Request Information',
    'cancelled',
    'customer',
    'staff',
    'scheduler',
    '',
    ' ',
    '1',
    '2',
    '8',
    '9',
    '-1',
    '1.5',
    '1e3',
    '0x10',
    1e308,
    -1,
    2 ** 31,
    2 ** 53 + 1,
    true,
    null,
  ),
  fc.tuple(fc.uuid(), fc.boolean()).map(([id, upper]) => (upper ? id.toUpperCase() : id)),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.integer(),
  fc.double(),
);

const fieldsArbitrary: fc.Arbitrary<LegacyFields> = fc
  .array(fc.tuple(fc.constantFrom(...FIELD_NAMES), fieldValue), { maxLength: 8 })
  // defineProperty, as the body parsers do: `__proto__` is an own field, not a prototype.
  .map((entries) =>
    entries.reduce<Record<string, unknown>>(
      (fields, [name, value]) => Object.defineProperty(fields, name, { value, enumerable: true, writable: true, configurable: true }),
      {},
    ),
  );

/** Runs a reader: its value, or whether what it threw is BAD_INPUT naming `field`. */
function read<T>(reader: () => T, field: string): { ok: true; value: T } | { ok: false; namesField: boolean } {
  try {
    return { ok: true, value: reader() };
  } catch (error) {
    const namesField = error instanceof DomainError && error.code === ErrorCode.BAD_INPUT && error.details.field === field && error.message.length > 0;
    return { ok: false, namesField };
  }
}

const run = (numRuns: number, check: (fields: LegacyFields) => boolean): void => {
  fc.assert(fc.property(fieldsArbitrary, check), { numRuns });
};

const TRANSITIONS: readonly string[] = Object.values(TicketOperation).filter(
  (operation) => operation !== TicketOperation.EDIT && operation !== TicketOperation.REPLY,
);
const STATUSES: readonly string[] = Object.values(TicketStatus);

describe('legacy field readers (properties)', () => {
  it('asFields takes exactly plain objects, and names body otherwise', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything({ maxDepth: 2 }), fieldsArbitrary), (body) => {
        const outcome = read(() => asFields(body), 'body');
        const plain = typeof body === 'object' && body !== null && !Array.isArray(body);
        return outcome.ok ? plain && outcome.value === body : !plain && outcome.namesField;
      }),
      { numRuns: 3000 },
    );
  });

  it('readUuid answers the lower-cased UUID, or names the field', () => {
    run(3000, (fields) => {
      const outcome = read(() => readUuid(fields, 'uuid'), 'uuid');
      if (!outcome.ok) return outcome.namesField;
      return typeof fields.uuid === 'string' && outcome.value === fields.uuid.toLowerCase() && /^[0-9a-f-]{36}$/.test(outcome.value);
    });
  });

  it('readOptionalUserId answers a positive 32-bit integer equal to the input, undefined when absent, or names the field', () => {
    run(3000, (fields) => {
      const outcome = read(() => readOptionalUserId(fields, 'staff-id'), 'staff-id');
      if (!outcome.ok) return outcome.namesField;
      const value = fields['staff-id'];
      if (value === undefined || value === null) return outcome.value === undefined;
      const id = outcome.value as number;
      return Number.isInteger(id) && id >= 1 && id <= 2 ** 31 - 1 && id === Number(value);
    });
  });

  it('checkCreateStatus passes only an absent status or NEW, and names status otherwise', () => {
    run(3000, (fields) => {
      const outcome = read(() => checkCreateStatus(fields), 'status');
      return outcome.ok || outcome.namesField;
    });
  });

  it('readTransition answers a transition (never edit or reply), undefined only when absent, or names status', () => {
    run(3000, (fields) => {
      const outcome = read(() => readTransition(fields), 'status');
      if (!outcome.ok) return outcome.namesField;
      const absent = fields.status === undefined || fields.status === null;
      return absent ? outcome.value === undefined : TRANSITIONS.includes(outcome.value as string);
    });
  });

  it('readStatusFilter answers no filter or exactly one status, or names status', () => {
    run(3000, (fields) => {
      const outcome = read(() => readStatusFilter(fields), 'status');
      if (!outcome.ok) return outcome.namesField;
      return outcome.value === undefined || (outcome.value.length === 1 && STATUSES.includes(outcome.value[0]));
    });
  });

  it('readOperator answers one of the allowed roles, or names operator', () => {
    const allowed = [Role.CUSTOMER, Role.STAFF];
    run(3000, (fields) => {
      const list = read(() => readOperator(fields, allowed), 'operator');
      const schedulerList = read(() => readOperator(fields, [Role.SCHEDULER], Role.SCHEDULER), 'operator');
      return (
        (list.ok ? allowed.includes(list.value) : list.namesField) && (schedulerList.ok ? schedulerList.value === Role.SCHEDULER : schedulerList.namesField)
      );
    });
  });

  it('readPaging answers a bounded page, undefined when neither field is sent, or names page / page-size', () => {
    run(3000, (fields) => {
      try {
        const paging = readPaging(fields);
        if (paging === undefined) return [fields.page, fields['page-size']].every((value) => value === undefined || value === null);
        return (
          Number.isInteger(paging.limit) &&
          paging.limit >= 1 &&
          paging.limit <= MAX_LEGACY_PAGE_SIZE &&
          Number.isSafeInteger(paging.offset) &&
          paging.offset >= 0 &&
          paging.offset % paging.limit === 0
        );
      } catch (error) {
        return error instanceof DomainError && error.code === ErrorCode.BAD_INPUT && ['page', 'page-size'].includes(error.details.field as string);
      }
    });
  });

  it('describe never throws and never echoes more than a short excerpt', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything({ withBigInt: true, withNullPrototype: true, withBoxedValues: true, withMap: true }),
          fc.string({ unit: 'binary', maxLength: 5000 }),
        ),
        (value) => {
          const text = describeValue(value);
          // 40 characters of a string, JSON-escaped (at most 6 characters each), plus quotes and "…".
          return typeof text === 'string' && text.length <= 40 * 6 + 3 + 40;
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('renameField renames only BAD_INPUT fields it knows, keeping code and the element index', () => {
    const renames = { id: 'uuid', staffId: 'staff-id', content: 'reply.content' };
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.values(ErrorCode)),
        fc.oneof(
          fc.constantFrom('id', 'staffId', 'content', 'images', 'other'),
          fc.constantFrom('images', 'id').chain((base) => fc.nat(20).map((index) => `${base}[${index}]`)),
        ),
        fc.string({ maxLength: 20 }),
        (code, field, rest) => {
          const error = new DomainError(code, `${field} ${rest}`, { field });
          const renamed = renameField(error, renames) as DomainError;
          const base = field.replace(/\[\d+\]$/, '');
          const known = code === ErrorCode.BAD_INPUT && base in renames;
          if (!known) return renamed === error;
          const legacyField = renames[base as keyof typeof renames] + field.slice(base.length);
          return renamed.code === code && renamed.details.field === legacyField && renamed.message === `${legacyField} ${rest}`;
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('findLegacyAction (properties)', () => {
  /** Any action name with random case, `_` for `-`, and padding: the forgiveness the contract's seed needs. */
  const spelledAction = fc
    .tuple(
      fc.constantFrom(...LEGACY_ACTION_NAMES),
      fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
      fc.boolean(),
      fc.constantFrom('', ' ', '\t', '\n '),
    )
    .map(([name, upper, underscores, pad]) => ({
      name,
      text:
        pad +
        [...name]
          .map((char, index) => (upper[index % upper.length] ? char.toUpperCase() : char))
          .join('')
          .replace(/-/g, underscores ? '_' : '-') +
        pad,
    }));

  it('finds every action whatever its case, separators and padding', () => {
    fc.assert(
      fc.property(spelledAction, ({ name, text }) => findLegacyAction(text).name === name),
      { numRuns: 2000 },
    );
  });

  it('answers an action or BAD_INPUT naming action, whatever the value', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fieldValue,
          fc.anything({ withNullPrototype: true }),
          spelledAction.map(({ text }) => text),
        ),
        (value) => {
          const outcome = read(() => findLegacyAction(value), 'action');
          return outcome.ok ? LEGACY_ACTION_NAMES.includes(outcome.value.name) : outcome.namesField;
        },
      ),
      { numRuns: 3000 },
    );
  });
});
