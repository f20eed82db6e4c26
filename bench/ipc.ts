import { fork, type ChildProcess } from 'node:child_process';

/**
 * The benchmark's server processes (the product, the SQL bound) talk to the benchmark over the
 * IPC channel of `child_process.fork`, never over HTTP: statement counts and memory are bench
 * instruments, and the product gets no route for them.
 */

/** What the benchmark asks a server process. */
export type Command =
  /** Start (`enabled`) or stop counting SQL statements; answers the count since the last start. */
  | { type: 'count'; enabled: boolean }
  /** Resident set size (current and peak: `reset` starts a new peak) and CPU time used so far. */
  | { type: 'sample'; reset: boolean }
  | { type: 'stop' };

export interface Answer {
  readonly queries?: number;
  readonly rss?: number;
  readonly peakRss?: number;
  /** User + system CPU time of the process since it started, microseconds. */
  readonly cpuMicros?: number;
}

interface Envelope {
  readonly id: number;
  readonly command: Command;
}

/** Sent once by a server process when it listens. */
export interface Ready {
  readonly type: 'ready';
  readonly url: string;
  /** From the process's start to listening, in ms. */
  readonly startupMs: number;
}

/** The server side: answers commands; `count` and `stop` are the server's own. */
export function serveCommands(handlers: { count(enabled: boolean): number; stop(): Promise<void> }): void {
  let peakRss = process.memoryUsage.rss();
  // Sampled, so a peak inside a run is seen even though it is asked for only at the end.
  setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 100).unref();

  process.on('message', (message: Envelope) => {
    const reply = (answer: Answer) => process.send?.({ id: message.id, answer });
    const { command } = message;
    if (command.type === 'count') reply({ queries: handlers.count(command.enabled) });
    else if (command.type === 'sample') {
      const rss = process.memoryUsage.rss();
      peakRss = Math.max(peakRss, rss);
      const cpu = process.cpuUsage();
      reply({ rss, peakRss, cpuMicros: cpu.user + cpu.system });
      if (command.reset) peakRss = rss;
    } else if (command.type === 'stop') {
      handlers.stop().then(
        () => {
          reply({});
          process.disconnect?.();
          process.exit(0);
        },
        (error) => {
          process.stderr.write(`stop failed: ${error instanceof Error ? error.stack : String(error)}\n`);
          process.exit(1);
        },
      );
    }
  });
  // The benchmark went away (crashed, interrupted): never outlive it.
  process.on('disconnect', () => process.exit(0));
}

/** Tells the benchmark the server listens. */
export function announceReady(url: string): void {
  process.send?.({ type: 'ready', url, startupMs: Math.round(performance.now()) } satisfies Ready);
}

/** The benchmark side of one server process. */
export class ServerProcess {
  private nextId = 1;
  private readonly pending = new Map<number, (answer: Answer) => void>();
  private exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    readonly startupMs: number,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.on('message', (message: { id?: number; answer?: Answer }) => {
      if (message.id === undefined) return;
      this.pending.get(message.id)?.(message.answer ?? {});
      this.pending.delete(message.id);
    });
  }

  /** Forks `script` and waits until it listens (or fails within `timeoutMs`). */
  static async start(
    script: string,
    env: NodeJS.ProcessEnv,
    { execArgv = [], timeoutMs = 120_000 }: { execArgv?: string[]; timeoutMs?: number } = {},
  ): Promise<ServerProcess> {
    const child = fork(script, [], { env, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const ready = await new Promise<Ready>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${script} did not start within ${timeoutMs} ms`));
      }, timeoutMs);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${script} exited with code ${code} before it was ready`));
      });
      child.on('message', (message: Ready) => {
        if (message.type !== 'ready') return;
        clearTimeout(timer);
        resolve(message);
      });
    });
    child.removeAllListeners('exit');
    return new ServerProcess(child, ready.url, ready.startupMs);
  }

  send(command: Command, timeoutMs = 30_000): Promise<Answer> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`server process did not answer ${command.type}`));
      }, timeoutMs);
      this.pending.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.child.send({ id, command } satisfies Envelope);
    });
  }

  /** Asks the process to close cleanly (PGlite must flush its files); kills it if it hangs. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (this.child.exitCode !== null) return;
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    this.send({ type: 'stop' }, timeoutMs).catch(() => undefined);
    await this.exited;
    clearTimeout(timer);
  }

  /** Last resort on the way out: never leave a server running. */
  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
