import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * docs/clients.md quotes the recipe files verbatim (`<!-- verbatim: PATH -->` before a code
 * block); recipes.test.ts runs those files. A block that differs from its file, or a recipe the
 * doc does not quote, fails here: what the doc shows is what CI ran.
 */
const ROOT = path.resolve(__dirname, '../..');
const doc = readFileSync(path.join(ROOT, 'docs/clients.md'), 'utf8');
const quoted = [...doc.matchAll(/<!-- verbatim: (\S+) -->\n```ts\n([\s\S]*?)```\n/g)].map((match) => ({ file: match[1], code: match[2] }));

describe('docs/clients.md', () => {
  it('quotes every recipe file', () => {
    const recipes = readdirSync(path.join(ROOT, 'test/clients/recipes')).map((name) => `test/clients/recipes/${name}`);
    expect(quoted.map(({ file }) => file).sort()).toEqual(recipes.sort());
  });

  it.each(quoted.map(({ file, code }) => [file, code]))('quotes %s exactly as it is tested', (file, code) => {
    expect(code).toBe(readFileSync(path.join(ROOT, file), 'utf8'));
  });
});
