import 'reflect-metadata';
import { printSchema } from 'graphql';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildGraphQLSchema } from '../graphql/schema';

/** The printed schema, as committed in `schema.graphql`. */
export async function printedSchema(): Promise<string> {
  return `${printSchema(await buildGraphQLSchema())}\n`;
}

/** `npm run schema:print` rewrites schema.graphql at the repository root. */
if (require.main === module) {
  printedSchema()
    .then((text) => {
      const file = path.resolve(__dirname, '../../schema.graphql');
      writeFileSync(file, text);
      process.stdout.write(`wrote ${file}\n`);
    })
    .catch((error) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    });
}
