import 'reflect-metadata';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { announceReady, serveCommands } from './ipc';

/**
 * The product under test, in a process of its own: `createApp` from the environment (DATA_DIR or
 * DATABASE_URL, CREDENTIAL_KEY, PORT=0), logger off.
 *
 * SQL statements are counted through the `onQuery` hook the app offers, but only during the
 * benchmark's counting passes: MikroORM's query logger is switched on for those and off while
 * throughput is measured, so counting costs the measured runs nothing.
 */
async function main(): Promise<void> {
  let queries = 0;
  const app = await createApp(loadConfig(process.env), { logger: false, onQuery: () => void queries++ });
  const logger = app.database.orm.config.getLogger();
  logger.setDebugMode(false);
  const url = await app.listen();

  serveCommands({
    count(enabled) {
      const counted = queries;
      queries = 0;
      logger.setDebugMode(enabled ? ['query'] : false);
      return counted;
    },
    stop: () => app.close(),
  });
  announceReady(url);
}

main().catch((error) => {
  process.stderr.write(`app server failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
