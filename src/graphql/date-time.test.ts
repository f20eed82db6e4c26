import { GraphQLDateTime } from 'graphql-scalars';
import { GraphQLObjectType, GraphQLSchema } from 'graphql';
import { serializeDateTimeNumbersAsText } from './date-time';

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
