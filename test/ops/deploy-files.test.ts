import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/**
 * docker-compose.yml, the Dockerfile and deploy/nginx.conf are not run here (no container engine
 * on the CI machine): this checks what can be checked without one, so the files cannot drift from
 * the code silently. The topology itself is exercised without Docker by topology.test.ts.
 */
const ROOT = path.resolve(__dirname, '../..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** The settings the server reads (every `env.NAME` in src/config.ts). */
const SETTINGS = new Set([...read('src/config.ts').matchAll(/env\.([A-Z_]+)/g)].map((match) => match[1]));

interface Service {
  image?: string;
  build?: string;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  ports?: string[];
  volumes?: string[];
}

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
  const { services } = compose;

  it('has PostgreSQL, Redis, two API processes and a proxy', () => {
    expect(Object.keys(services).sort()).toEqual(['api-1', 'api-2', 'postgres', 'proxy', 'redis']);
  });

  it.each(['api-1', 'api-2'])('%s: built from the Dockerfile, on PostgreSQL and Redis, healthy when /readyz says so', (name) => {
    const api = services[name]!;
    expect(api.build).toBe('.');
    expect(api.environment?.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\//);
    expect(api.environment?.REDIS_URL).toBe('redis://redis:6379');
    expect(api.environment?.CREDENTIAL_KEY).toBeDefined();
    for (const variable of Object.keys(api.environment ?? {})) expect(SETTINGS).toContain(variable);
    expect(api.depends_on).toEqual({ postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
    expect(api.healthcheck?.test.join(' ')).toContain('/readyz');
    expect(api.ports).toBeUndefined();
  });

  it('has health checks on PostgreSQL and Redis, and the proxy waits for both API processes', () => {
    expect(services.postgres!.healthcheck?.test.join(' ')).toContain('pg_isready');
    expect(services.redis!.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect(services.proxy!.depends_on).toEqual({ 'api-1': { condition: 'service_healthy' }, 'api-2': { condition: 'service_healthy' } });
    const mount = services.proxy!.volumes?.[0] ?? '';
    expect(existsSync(path.join(ROOT, mount.split(':')[0]!))).toBe(true);
  });
});

describe('deploy/nginx.conf', () => {
  const conf = read('deploy/nginx.conf');
  it('balances over both API processes, upgrades WebSockets, streams unbuffered, keeps /metrics in', () => {
    expect(conf).toMatch(/server api-1:4000/);
    expect(conf).toMatch(/server api-2:4000/);
    expect(conf).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
    expect(conf).toMatch(/proxy_set_header Connection \$connection_upgrade;/);
    expect(conf).toMatch(/proxy_http_version 1\.1;/);
    expect(conf).toMatch(/proxy_buffering off;/);
    expect(conf).toMatch(/location = \/metrics \{ return 404; \}/);
    // Balanced braces: a truncated edit shows here.
    expect(conf.split('{').length).toBe(conf.split('}').length);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const stages = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((match) => match[1]);

  it('is multi-stage on Node 24, installs production dependencies only, runs as a non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const image of stages) expect(image).toMatch(/^node:24[-.]/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/readyz/m);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/main\.js"\]$/m);
  });

  it('listens on all interfaces in the container, on the port the compose file checks', () => {
    expect(dockerfile).toMatch(/HOST=0\.0\.0\.0/);
    expect(dockerfile).toMatch(/PORT=4000/);
  });

  it('package.json engines match the versions CI runs (20 and 24)', () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    // 20.19.5: mikro-orm-pglite's own minimum; 22.15: @whatwg-node/promise-helpers' (a warning on 20).
    expect(engines).toBe('^20.19.5 || ^22.15.0 || ^24.0.0');
  });
});
