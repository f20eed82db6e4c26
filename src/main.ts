import 'reflect-metadata';
import { createApp } from './app';
import { ConfigError, loadConfig } from './config';
import { DomainError } from './shared/errors';

/** Starts the server from the environment (docs/contract.md "Running it") and stops it cleanly on signals. */
async function main(): Promise<void> {
  const started = Date.now();
  const config = loadConfig(process.env);
  const app = await createApp(config);
  const url = await app.listen();
  const lines = [
    `Help desk ready in ${Date.now() - started} ms`,
    `  GraphQL (HTTP and WebSocket): ${url}/graphql`,
    `  Legacy endpoint:              ${url}/api/ticket`,
    `  Board (browser):              ${url}/`,
    `  Database: ${config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.dataDir}/pglite`}`,
    `  Credential key: ${config.credentialKeySource}`,
  ];
  if (app.generatedAdminPassword) {
    lines.push(
      `  Administrator "${config.adminUsername}" created with password: ${app.generatedAdminPassword}`,
      '  (shown once; set ADMIN_PASSWORD to choose it yourself)',
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.server.log.info({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      (error) => {
        app.server.log.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((error) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`Configuration error: ${error.message}\n`);
    process.exit(2);
  }
  if (error instanceof DomainError) {
    // The only input start-up validates as a domain rule is the bootstrap administrator.
    process.stderr.write(`Configuration error: ADMIN_USERNAME / ADMIN_PASSWORD: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`Failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
