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
  const serialize = (value: unknown): unknown =>
    typeof value === 'number' && Math.abs(value) <= MAX_DATE_MS ? new Date(value).toISOString() : original(value);
  // `Math.abs(NaN) <= …` is false: NaN keeps graphql-scalars' answer.
  type.serialize = Object.assign(serialize, { isoText: true as const });
}

/** The largest distance from the epoch a Date can represent (ECMAScript §21.4.1.1). */
const MAX_DATE_MS = 8.64e15;
