import { GraphQLScalarType, type GraphQLSchema } from 'graphql';

/**
 * DateTime values are milliseconds since the epoch in the read views. graphql-scalars'
 * GraphQLDateTime serialises a number as a `Date` object, which `JSON.stringify` then turns into
 * its ISO string through `toJSON`: a list page carries about 550 of them, and objects with a
 * `toJSON` take V8's serialiser off its fast path (issue 15). This answers the ISO string at once
 * for finite numbers a Date can hold, the very text the Date would have become; every other value
 * (Dates, strings, invalid numbers) goes to graphql-scalars' own `serialize` unchanged.
 *
 * The schema's DateTime type is graphql-scalars' shared instance, so this changes it for the
 * process; the text each value serialises to is the same either way (tested in date-time.test.ts).
 */
export function serializeDateTimeNumbersAsText(schema: GraphQLSchema): void {
  const type = schema.getType('DateTime');
  if (!(type instanceof GraphQLScalarType) || (type.serialize as { isoText?: true }).isoText) return;
  const original = type.serialize.bind(type);
  const serialize = (value: unknown): unknown => (typeof value === 'number' && Math.abs(value) <= MAX_DATE_MS ? isoText(value) : original(value));
  // `Math.abs(NaN) <= …` is false: NaN keeps graphql-scalars' answer.
  type.serialize = Object.assign(serialize, { isoText: true as const });
}

/** The largest distance from the epoch a Date can represent (ECMAScript §21.4.1.1). */
const MAX_DATE_MS = 8.64e15;

/** 10000-01-01T00:00:00.000Z: from here on `toISOString` writes six-digit years. */
const YEAR_10000_MS = 253402300800000;

const DAY_MS = 86_400_000;

/** Character codes: the digit 0 (add the digit), and the separators of the ISO text. */
const ZERO = 48;
const DASH = 45;
const DOT = 46;
const COLON = 58;
const LETTER_T = 84;
const LETTER_Z = 90;

/**
 * `new Date(ms).toISOString()` for a finite `ms` within a Date's range, without the Date: a list
 * page formats about 550 of them, and in a CPU profile of its execution the Date allocation and
 * `toISOString` took a third of graphql-jit's time (issue 15, docs/performance.md). From 1970 to
 * the year 9999 the text is computed here (the civil date by Howard Hinnant's days-to-date
 * algorithm, exact in integers); other instants, which need signs and six-digit years, go to
 * `toISOString` itself. Like a Date, the fraction of a millisecond is dropped (TimeClip truncates
 * toward zero). Compared with `toISOString` on edge and random instants in date-time.test.ts.
 */
export function isoText(ms: number): string {
  if (!(ms >= 0 && ms < YEAR_10000_MS)) return new Date(ms).toISOString();
  const time = Math.trunc(ms);
  const days = Math.floor(time / DAY_MS);
  let rest = time - days * DAY_MS;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  const millis = rest - seconds * 1000;
  // civil_from_days: days since 1970-01-01 to year, month, day (proleptic Gregorian).
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1;
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  // One flat string from its 24 character codes: a template literal of 13 parts allocated the
  // intermediate strings of each concatenation (about 400 bytes per value, nearly a fifth of what
  // graphql-jit's execution of a list page allocated) and left a rope, which `JSON.stringify` of
  // the response then had to walk (docs/performance.md, fifth round).
  return String.fromCharCode(
    ZERO + Math.floor(year / 1000),
    ZERO + (Math.floor(year / 100) % 10),
    ZERO + (Math.floor(year / 10) % 10),
    ZERO + (year % 10),
    DASH,
    ZERO + Math.floor(month / 10),
    ZERO + (month % 10),
    DASH,
    ZERO + Math.floor(day / 10),
    ZERO + (day % 10),
    LETTER_T,
    ZERO + Math.floor(hours / 10),
    ZERO + (hours % 10),
    COLON,
    ZERO + Math.floor(minutes / 10),
    ZERO + (minutes % 10),
    COLON,
    ZERO + Math.floor(seconds / 10),
    ZERO + (seconds % 10),
    DOT,
    ZERO + Math.floor(millis / 100),
    ZERO + (Math.floor(millis / 10) % 10),
    ZERO + (millis % 10),
    LETTER_Z,
  );
}
