import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ConfigError, resolveCredentialKey } from '../config';
import { ReverseProxy } from '../deploy/reverse-proxy';

/**
 * The scale-out topology of docker-compose.yml without Docker: two API processes on one
 * PostgreSQL and one Redis (from the machine), behind one proxy process (this one), which also
 * restarts an API process that exits (as compose's `restart: unless-stopped` does).
 *
 *   DATABASE_URL=postgres://… npm run topology
 *
 * Settings: DATABASE_URL (required), REDIS_URL (default redis://127.0.0.1:6379), PROXY_PORT
 * (8080), PROXY_HOST (127.0.0.1), API_PORTS (4001,4002), DATA_DIR (./data/topology: the shared
 * credential key when CREDENTIAL_KEY is unset); every other setting passes to the API processes.
 * Prints `api-N ready pid=… url=…` per (re)start and `proxy ready url=…`; SIGTERM/SIGINT stop all.
 */

const RESTART_DELAY_MS = 500;

function parsePorts(value: string | undefined): number[] {
  const ports = (value || '4001,4002').split(',').map((part) => Number(part.trim()));
  if (ports.length < 1 || ports.some((port) => !Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new ConfigError(`API_PORTS must be a comma-separated list of ports, got "${value}"`);
  }
  return ports;
}

async function waitReady(url: string, child: ChildProcess, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited before it was ready (${child.exitCode ?? child.signalCode})`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`not ready after ${timeoutMs} ms`);
}

async function main(): Promise<void> {
  const env = process.env;
  if (!env.DATABASE_URL) throw new ConfigError('DATABASE_URL is required: both API processes share one PostgreSQL database');
  const redisUrl = env.REDIS_URL || 'redis://127.0.0.1:6379';
  const ports = parsePorts(env.API_PORTS);
  const proxyPort = Number(env.PROXY_PORT || 8080);
  if (!Number.isInteger(proxyPort) || proxyPort < 0 || proxyPort > 65535) throw new ConfigError(`PROXY_PORT must be a port, got "${env.PROXY_PORT}"`);
  const dataDir = path.resolve(env.DATA_DIR || './data/topology');
  // Every process must decode the same credentials: one key, shared.
  const { key } = resolveCredentialKey(env, dataDir);
  const mainJs = path.join(__dirname, '..', 'main.js');

  let stopping = false;
  const children = new Map<number, ChildProcess>();

  const start = (index: number): void => {
    const port = ports[index]!;
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(process.execPath, [mainJs], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: {
        ...env,
        PORT: String(port),
        HOST: '127.0.0.1',
        REDIS_URL: redisUrl,
        // Behind the proxy: believe its X-Forwarded-For (one hop), and leave the per-address
        // connection cap to the proxy, since every connection comes from it.
        TRUST_PROXY: env.TRUST_PROXY || '1',
        MAX_CONNECTIONS_PER_ADDRESS: env.MAX_CONNECTIONS_PER_ADDRESS || '0',
        CREDENTIAL_KEY: key.toString('hex'),
        DATA_DIR: path.join(dataDir, `api-${index + 1}`),
      },
    });
    children.set(index, child);
    child.once('exit', (code, signal) => {
      if (children.get(index) === child) children.delete(index);
      if (stopping) return;
      process.stdout.write(`api-${index + 1} exited (${code ?? signal}); restarting\n`);
      setTimeout(() => !stopping && start(index), RESTART_DELAY_MS);
    });
    waitReady(url, child).then(
      () => process.stdout.write(`api-${index + 1} ready pid=${child.pid} url=${url}\n`),
      (error: Error) => process.stderr.write(`api-${index + 1}: ${error.message}\n`),
    );
  };

  const proxy = new ReverseProxy({
    upstreams: ports.map((port) => `http://127.0.0.1:${port}`),
    log: (message) => process.stdout.write(`proxy: ${message}\n`),
  });
  ports.forEach((_, index) => start(index));
  const proxyUrl = await proxy.listen(proxyPort, env.PROXY_HOST || '127.0.0.1');
  process.stdout.write(`proxy ready url=${proxyUrl}\n`);

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await proxy.close();
    await Promise.all(
      [...children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((error) => {
  process.stderr.write(
    `${error instanceof ConfigError ? 'Configuration error: ' : 'Failed to start: '}${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(error instanceof ConfigError ? 2 : 1);
});
