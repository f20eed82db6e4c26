import fc from 'fast-check';
import { GraphQLDateTime } from 'graphql-scalars';
import { GraphQLObjectType, GraphQLSchema } from 'graphql';
import { isoText, serializeDateTimeNumbersAsText } from './date-time';

describe('DateTime numbers serialised as ISO text', () => {
  // The original behaviour, captured before the schema's type is changed.
  const original = GraphQLDateTime.serialize.bind(GraphQLDateTime);
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { at: { type: GraphQLDateTime } } }),
  });
  serializeDateTimeNumbersAsText(schema);
  const type = schema.getType('DateTime') as typeof GraphQLDateTime;

  it.each([0, 1764312345123, 1764312345123.456, -1, 8.64e15, -8.64e15, 8.64e15 + 1, Number.NaN, Infinity])(
    'the JSON of %p is the one graphql-scalars gives',
    (ms) => {
      expect(JSON.stringify(type.serialize(ms))).toBe(JSON.stringify(original(ms)));
    },
  );

  it('Dates and strings keep graphql-scalars serialisation, errors included', () => {
    const date = new Date('2026-11-28T10:00:00.123Z');
    expect(JSON.stringify(type.serialize(date))).toBe(JSON.stringify(original(date)));
    expect(JSON.stringify(type.serialize('2026-11-28T10:00:00.123Z'))).toBe(JSON.stringify(original('2026-11-28T10:00:00.123Z')));
    expect(() => type.serialize('yesterday')).toThrow(/DateTime cannot represent/);
    expect(() => type.serialize(true)).toThrow(/DateTime cannot be serialized/);
  });

  it('numbers become text at once (no Date for JSON.stringify to convert)', () => {
    expect(type.serialize(1764312345123)).toBe('2025-11-28T06:45:45.123Z');
  });

  it('applying it twice wraps once', () => {
    const once = type.serialize;
    serializeDateTimeNumbersAsText(schema);
    expect(type.serialize).toBe(once);
  });
});

describe('isoText: toISOString without a Date', () => {
  const MAX = 8.64e15;
  it.each([
    0,
    -0,
    0.999,
    1,
    999,
    1000,
    86_399_999,
    86_400_000,
    951_782_399_999,
    951_782_400_000,
    951_868_800_000, // 2000-02-28/29 (leap year divisible by 400)
    4_107_542_399_999,
    4_107_542_400_000, // 2100-02-28, 2100-03-01 (not a leap year)
    1_709_164_800_000,
    1_709_251_199_999, // 2024-02-29
    1_764_312_345_123,
    1_764_312_345_123.456,
    1_764_312_345_123.999,
    253_402_300_799_999,
    253_402_300_799_999.5,
    253_402_300_800_000, // the last instant of 9999, then 10000
    -1,
    -0.5,
    -62_167_219_200_000,
    MAX,
    -MAX,
  ])('%p', (ms) => {
    expect(isoText(ms)).toBe(new Date(ms).toISOString());
  });

  it('equals toISOString on random instants, integer and fractional, across the whole range', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 0, max: 253_402_300_799_999 }),
          fc.double({ min: 0, max: 253_402_300_800_000, noNaN: true }),
          fc.double({ min: -MAX, max: MAX, noNaN: true }),
          fc.integer({ min: 1_500_000_000_000, max: 2_000_000_000_000 }),
        ),
        (ms) => isoText(ms) === new Date(ms).toISOString(),
      ),
      { numRuns: 20_000 },
    );
  });
});
