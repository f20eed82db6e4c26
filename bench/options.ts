import path from 'node:path';

/**
 * Benchmark settings, from `--name=value` flags or `BENCH_*` environment variables (flags win).
 * Every setting has a default that keeps a whole run to a few minutes on a 2-core machine.
 */
export interface BenchOptions {
  /** A PostgreSQL server to run on (a fresh database is created on it and dropped afterwards). */
  readonly databaseUrl?: string;
  /** Seconds measured per target per round. */
  readonly duration: number;
  /** Seconds of load before each measurement (fresh processes need their JIT warm). */
  readonly warmup: number;
  readonly rounds: number;
  /** Concurrent HTTP connections of the load generator. */
  readonly connections: number;
  readonly tickets: number;
  /** Only targets whose name contains one of these; all when empty. */
  readonly targets: readonly string[];
  /** Sequential requests of the statement-counting pass that follows each measurement. */
  readonly countRequests: number;
  /** Cold-start runs per kind (0 skips the cold-start measurement). */
  readonly coldRuns: number;
  /** Directory for V8 CPU profiles of the server processes (`--cpu-prof`); none when unset. */
  readonly cpuProfDir?: string;
  /** Keep the temporary data directory or database instead of deleting it. */
  readonly keep: boolean;
  /** Also write the results as JSON to this file. */
  readonly jsonFile?: string;
  /** Extra Node.js flags for the product's server process only (e.g. `--max-semi-space-size=64`). */
  readonly appNodeArgs: readonly string[];
  /**
   * A built checkout of an earlier version (its `dist-bench/bench/app-server.js`): its read
   * targets are measured too, as `before:<target>`, in the same rounds (before and after in one run).
   */
  readonly before?: string;
}

const HELP = `npm run bench [-- --name=value ...]   (or BENCH_NAME=value in the environment)

  --duration=5      seconds measured per target and round
  --warmup=2        seconds of warm-up load before each measurement (3× for a new process's first target)
  --rounds=3        alternating rounds (SQL bound and server take turns going first)
  --connections=10  concurrent connections of the load generator
  --tickets=2000    tickets seeded (5 replies and 5 history entries each, 50 users)
  --targets=a,b     only targets whose name contains one of these (e.g. --targets=bound,gql-list)
  --count=10        sequential requests of the SQL-statement counting pass
  --cold=3          cold-start runs per kind (0 skips)
  --cpu-prof=DIR    write V8 CPU profiles of the server processes to DIR
  --keep=1          keep the temporary data directory / database
  --json=FILE       also write the results as JSON
  --app-node-args="--flag ..."   extra Node.js flags for the product's server process only (not the --before build)
  --before=DIR      also measure the read targets of an earlier build in DIR (git archive <commit> | tar -x -C DIR,
                    then in DIR: tsc -b tsconfig.build.json && tsc -p bench/tsconfig.json), as before:<target>

  DATABASE_URL=postgres://user@host:port/db   run on that PostgreSQL server: the benchmark creates
                    a fresh database there (helpdesk_bench_<random>) and drops it afterwards.
                    Unset: embedded PGlite in a temporary DATA_DIR.`;

function readArgs(argv: readonly string[]): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${HELP}\n`);
      process.exit(0);
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`Unknown argument "${arg}" (try --help)`);
    let value = match[2];
    if (value === undefined) {
      // `--keep` alone is a switch; `--rounds 2` takes the next word.
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) value = '1';
      else {
        value = next;
        i++;
      }
    }
    args.set(match[1]!, value);
  }
  return args;
}

function positive(name: string, text: string | undefined, fallback: number, { allowZero = false } = {}): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new Error(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got "${text}"`);
  }
  return value;
}

/** Reads the options; throws an Error naming the bad setting. */
export function readOptions(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const args = readArgs(argv);
  const get = (name: string): string | undefined => args.get(name) ?? env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`];
  const known = new Set([
    'duration',
    'warmup',
    'rounds',
    'connections',
    'tickets',
    'targets',
    'count',
    'cold',
    'cpu-prof',
    'keep',
    'json',
    'app-node-args',
    'before',
  ]);
  for (const name of args.keys()) if (!known.has(name)) throw new Error(`Unknown option --${name} (try --help)`);

  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new Error('DATABASE_URL must start with postgres://');
  const tickets = Math.floor(positive('tickets', get('tickets'), 2000));
  if (tickets < 100) throw new Error('tickets must be at least 100');
  return {
    databaseUrl,
    duration: positive('duration', get('duration'), 5),
    warmup: positive('warmup', get('warmup'), 2, { allowZero: true }),
    rounds: Math.floor(positive('rounds', get('rounds'), 3)),
    connections: Math.floor(positive('connections', get('connections'), 10)),
    tickets,
    targets: (get('targets') ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
    countRequests: Math.floor(positive('count', get('count'), 10)),
    coldRuns: Math.floor(positive('cold', get('cold'), 3, { allowZero: true })),
    cpuProfDir: get('cpu-prof') || undefined,
    keep: ['1', 'true', 'yes'].includes((get('keep') ?? '').toLowerCase()),
    jsonFile: get('json') || undefined,
    appNodeArgs: (get('app-node-args') ?? '').split(/\s+/).filter(Boolean),
    before: get('before') ? path.resolve(get('before')!) : undefined,
  };
}
