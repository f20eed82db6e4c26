import path from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { ConfigError, resolveCredentialKey } from '../config';
import { encodeCredential } from '../modules/auth/credential';

/**
 * `npm run -s credential -- <username> [password]`: prints a credential for the legacy endpoint,
 * encrypted under the key the server uses (CREDENTIAL_KEY, else the key file in DATA_DIR), so a
 * person can try the API with curl:
 *
 *     curl -d "{\"action\":\"permission-check\",\"credential\":\"$(npm run -s credential -- alice)\"}" ...
 *
 * Only the hex goes to stdout; prompts, usage and errors go to stderr.
 */

const USAGE = `Usage: npm run -s credential -- [--nonce-length 12|16] <username> [password]

Prints a credential (hex) for the legacy endpoint, encrypted under CREDENTIAL_KEY or, when that is
unset, the key the server generated in DATA_DIR (default ./data).
Without a password argument the password is read from stdin (one line), which keeps it out of the
shell history.

Options:
  --nonce-length 12|16   nonce (IV) size in bytes; default 16, like the seed document
  -h, --help             show this help
`;

/** Exit code for usage and configuration errors. */
const EXIT_USAGE = 2;

/** The streams the command talks to; tests pass their own. */
export interface CliIo {
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

class UsageError extends Error {}

interface Arguments {
  readonly help: boolean;
  readonly nonceLength: 12 | 16;
  readonly username?: string;
  readonly password?: string;
}

function parseNonceLength(value: string | undefined): 12 | 16 {
  if (value === '12') return 12;
  if (value === '16') return 16;
  throw new UsageError(`--nonce-length must be 12 or 16, got ${value === undefined ? 'nothing' : `"${value}"`}`);
}

function parseArguments(argv: readonly string[]): Arguments {
  let help = false;
  let nonceLength: 12 | 16 = 16;
  const positionals: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] as string;
    if (arg === '--') {
      // Everything after `--` is positional, so a password may start with a dash.
      positionals.push(...argv.slice(index + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') help = true;
    else if (arg === '--nonce-length') nonceLength = parseNonceLength(argv[(index += 1)]);
    else if (arg.startsWith('--nonce-length=')) nonceLength = parseNonceLength(arg.slice('--nonce-length='.length));
    else if (arg.startsWith('-') && arg !== '-') throw new UsageError(`Unknown option ${arg}`);
    else positionals.push(arg);
  }
  if (help) return { help, nonceLength };
  if (positionals.length < 1 || positionals.length > 2) throw new UsageError('Expected a username and, optionally, a password');
  const [username, password] = positionals;
  return { help, nonceLength, username, password };
}

/** Reads one line; on a terminal the prompt goes to stderr and the typing is not echoed. */
async function readPasswordLine(io: CliIo): Promise<string | undefined> {
  const terminal = io.stdin.isTTY === true;
  if (terminal) io.stderr.write('Password: ');
  const muted = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  const lines = createInterface({ input: io.stdin, output: terminal ? muted : undefined, terminal, crlfDelay: Infinity });
  try {
    return await new Promise<string | undefined>((resolve) => {
      lines.once('line', resolve);
      lines.once('close', () => resolve(undefined));
    });
  } finally {
    lines.close();
    if (terminal) io.stderr.write('\n');
  }
}

/**
 * Runs the command.
 *
 * @param argv the arguments after the script name (`process.argv.slice(2)`).
 * @param env where CREDENTIAL_KEY and DATA_DIR are read from.
 * @returns the exit code: 0 on success, 2 for usage or configuration errors.
 */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  io: CliIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  try {
    const args = parseArguments(argv);
    if (args.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    const username = args.username ?? '';
    if (username === '') throw new UsageError('The username must not be empty');
    // Resolve the key before prompting, so a missing key is reported without asking for anything.
    const { key } = resolveCredentialKey(env, path.resolve(env.DATA_DIR || './data'), { create: false });
    const password = args.password ?? (await readPasswordLine(io));
    if (password === undefined) throw new UsageError('No password given and none on stdin');
    if (password === '') throw new UsageError('The password must not be empty');
    io.stdout.write(`${encodeCredential(username, password, key, { nonceLength: args.nonceLength })}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`credential: ${error.message}\n\n${USAGE}`);
      return EXIT_USAGE;
    }
    if (error instanceof ConfigError) {
      io.stderr.write(`credential: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
}

if (require.main === module) {
  main(process.argv.slice(2), process.env).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`credential: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
