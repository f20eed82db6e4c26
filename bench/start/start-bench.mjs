#!/usr/bin/env node
// Time from `npm start` to a 200 on /readyz: once on a fresh data directory, then restarts on the
// same one (embedded database), each stopped with SIGTERM. Prints one line per run and a summary.
//
//   node bench/start/start-bench.mjs [--restarts 3] [--command "npm start"]...
//
// Several --command flags are measured in one run, in turn, so their ratio holds on a busy machine.
// State lives in .bench/ inside the checkout (git-ignored), removed before and after.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1] : fallback;
};
const restarts = Number(option('restarts', '3'));
const commands = args.flatMap((arg, index) => (arg === '--command' ? [args[index + 1]] : []));
if (commands.length === 0) commands.push('npm start');
const dataDir = path.join(root, '.bench', `start-${process.pid}`);

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

async function run(command, label) {
  const port = await freePort();
  const started = process.hrtime.bigint();
  const child = spawn(command, {
    cwd: root,
    shell: true,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      DATABASE_URL: '',
      REDIS_URL: '',
      LOG_LEVEL: 'warn',
      ADMIN_PASSWORD: 'bench admin password',
    },
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let ready = false;
  while (!ready) {
    if (child.exitCode !== null) throw new Error(`${command} exited with ${child.exitCode}:\n${stderr}`);
    try {
      ready = (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
    } catch {
      // Not listening yet.
    }
    if (!ready) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  // npm and the shell pass SIGTERM on poorly: signal the whole process group.
  process.kill(-child.pid, 'SIGTERM');
  await exited;
  console.log(`${label.padEnd(22)} ${ms.toFixed(0).padStart(6)} ms to /readyz`);
  return ms;
}

const { loadavg } = await import('node:os');
const summary = [];
try {
  for (const command of commands) {
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true });
    console.log(
      `command: ${command}  (node ${process.version}, load ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')})`,
    );
    const fresh = await run(command, 'fresh data directory');
    const again = [];
    for (let i = 1; i <= restarts; i++) again.push(await run(command, `restart ${i}`));
    const median = [...again].sort((a, b) => a - b)[Math.floor(again.length / 2)];
    summary.push(`${command.padEnd(48)} fresh ${fresh.toFixed(0).padStart(6)} ms   restart median ${median.toFixed(0).padStart(6)} ms`);
  }
  console.log('summary:');
  for (const line of summary) console.log(`  ${line}`);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
