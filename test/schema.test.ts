import { readFileSync } from 'node:fs';
import path from 'node:path';
import { printedSchema } from '../src/cli/print-schema';

describe('schema.graphql', () => {
  it('is the schema the code builds (run `npm run schema:print` after changing it)', async () => {
    const committed = readFileSync(path.resolve(__dirname, '../schema.graphql'), 'utf8');
    expect(committed).toBe(await printedSchema());
  });
});
