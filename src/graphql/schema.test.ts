import 'reflect-metadata';
import { buildGraphQLSchema } from './schema';

// Apart from direct-resolvers.test.ts: type-graphql's metadata is global, and that file's test
// resolvers would join the product's schema.
describe("the product's schema", () => {
  it("calls Ticket's per-ticket field resolvers directly", async () => {
    const schema = await buildGraphQLSchema();
    const fields = schema.getType('Ticket') as unknown as { getFields(): Record<string, { resolve?: (...args: unknown[]) => unknown }> };
    const ticket = { imageIds: ['i1'], replies: [], history: [] };
    const sort = jest.spyOn(Array.prototype, 'sort');
    try {
      const images = fields.getFields().images!.resolve!(ticket, {}, { publicUrl: 'http://x' }, undefined);
      expect(images).toEqual(['http://x/images/i1']);
      expect(fields.getFields().replies!.resolve!(ticket, {}, {}, undefined)).toBe(ticket.replies);
      expect(sort).not.toHaveBeenCalled();
    } finally {
      sort.mockRestore();
    }
  });
});
