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
  // BENCH_LOG_SQL=1 prints what the counting passes count.
  const print = process.env.BENCH_LOG_SQL === '1';
  const onQuery = (sql: string) => {
    queries++;
    if (print) process.stderr.write(`[sql] ${sql.slice(0, 160)}\n`);
  };
  // Throughput, not request budgets: those are off unless the environment sets RATE_LIMIT_POINTS.
  const app = await createApp(loadConfig({ RATE_LIMIT_POINTS: '0', ...process.env }), { logger: false, onQuery });
  // Through the configuration, not the logger: MikroORM re-applies `debug` to its logger on
  // every fork, so only the option itself stays switched.
  const { config } = app.database.orm;
  config.set('debug', false);
  const url = await app.listen();

  serveCommands({
    count(enabled) {
      const counted = queries;
      queries = 0;
      config.set('debug', enabled ? ['query'] : false);
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
