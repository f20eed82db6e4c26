import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { createApp } from '../src/app';
import type { AppConfig } from '../src/config';
import { encodeCredential } from '../src/modules/auth/credential';
import { hashPassword, verifyPassword } from '../src/modules/auth/password';
import { createDatabaseOn } from '../test/support/postgres';

/**
 * `npm run bench:auth`: what a request costs when the client re-encrypts its password with a
 * fresh nonce every time, against one that reuses its credential (docs/hardening.md, "A password
 * hash per request"), and what one scrypt costs at the old and the current parameters.
 *
 * One process: a server on the embedded database (or on a fresh database of the PostgreSQL
 * server given as BENCH_DATABASE_URL, dropped afterwards) and a client sending `{ me { id } }`
 * one request at a time. Credentials are encrypted before the clock starts, so only the
 * server's work and the HTTP round trip are timed. Rounds alternate; medians are printed.
 */

const REQUESTS = Number(process.env.BENCH_AUTH_REQUESTS ?? 300);
const ROUNDS = 5;
const USERNAME = 'bench-user';
const PASSWORD = 'a bench passphrase 2026';
const log = (line = '') => process.stdout.write(`${line}\n`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

async function timeRequests(url: string, credentials: string[]): Promise<number> {
  const started = process.hrtime.bigint();
  for (const credential of credentials) {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Credential ${credential}` },
      body: '{"query":"{ me { id } }"}',
    });
    const body = (await response.json()) as { data?: { me?: { id: string } } };
    if (!body.data?.me?.id) throw new Error(`sign-in failed: ${JSON.stringify(body)}`);
  }
  return Number(process.hrtime.bigint() - started) / 1e6 / credentials.length;
}

async function scryptCost(N: number): Promise<{ ms: number; stored: string }> {
  const stored = await hashPassword(PASSWORD, { N, r: 8, p: 1 });
  const times: number[] = [];
  for (let run = 0; run < 3; run++) {
    const started = process.hrtime.bigint();
    await verifyPassword(PASSWORD, stored);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return { ms: median(times), stored };
}

async function main(): Promise<void> {
  const database = process.env.BENCH_DATABASE_URL ? await createDatabaseOn(process.env.BENCH_DATABASE_URL, 'helpdesk_bench_auth') : undefined;
  const key = randomBytes(32);
  const config: AppConfig = {
    port: 0,
    host: '127.0.0.1',
    databaseUrl: database?.url,
    credentialKey: key,
    credentialKeySource: 'bench',
    adminUsername: USERNAME,
    adminPassword: PASSWORD,
    logLevel: 'silent',
  };
  const app = await createApp(config, { logger: false });
  try {
    const url = await app.listen();
    const reused = encodeCredential(USERNAME, PASSWORD, key);
    await timeRequests(url, [reused]);
    // Warm-up of both paths.
    await timeRequests(
      url,
      Array.from({ length: 50 }, () => reused),
    );
    await timeRequests(
      url,
      Array.from({ length: 50 }, () => encodeCredential(USERNAME, PASSWORD, key)),
    );

    const reusedMs: number[] = [];
    const freshMs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const fresh = Array.from({ length: REQUESTS }, () => encodeCredential(USERNAME, PASSWORD, key));
      const same = Array.from({ length: REQUESTS }, () => reused);
      if (round % 2 === 0) {
        reusedMs.push(await timeRequests(url, same));
        freshMs.push(await timeRequests(url, fresh));
      } else {
        freshMs.push(await timeRequests(url, fresh));
        reusedMs.push(await timeRequests(url, same));
      }
    }
    const old = await scryptCost(2 ** 14);
    const current = await scryptCost(2 ** 17);

    log(`auth bench (${database ? 'PostgreSQL' : 'embedded'}; ${ROUNDS} rounds of ${REQUESTS} sequential { me { id } } requests)`);
    log(`  reused credential:           ${median(reusedMs).toFixed(3)} ms/request (rounds: ${reusedMs.map((ms) => ms.toFixed(3)).join(', ')})`);
    log(`  fresh nonce every request:   ${median(freshMs).toFixed(3)} ms/request (rounds: ${freshMs.map((ms) => ms.toFixed(3)).join(', ')})`);
    log(`  fresh-nonce cost ratio:      ${(median(freshMs) / median(reusedMs)).toFixed(2)}x`);
    log(
      `  one scrypt verification:     ${old.ms.toFixed(1)} ms at ${old.stored.split('$').slice(1, 4).join('/')} (N/r/p), ${current.ms.toFixed(1)} ms at ${current.stored.split('$').slice(1, 4).join('/')}`,
    );
    log(
      `  load average: ${(await import('node:os'))
        .loadavg()
        .map((value) => value.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    await app.close();
    await database?.drop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
