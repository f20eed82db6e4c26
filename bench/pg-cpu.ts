import { readFileSync } from 'node:fs';
import { Client } from 'pg';

/**
 * CPU time of the PostgreSQL backends serving one database (issue 15: every target's CPU per
 * request for the server process and for PostgreSQL, so a ratio names where the time goes).
 *
 * The backends are found in `pg_stat_activity` by database name (the benchmark's own fresh
 * database, so no other work is counted; this sampler's connection is to another database and is
 * excluded), and their user + system time is read from `/proc/<pid>/stat` (fields 14 and 15, in
 * clock ticks of 10 ms). It works when PostgreSQL runs on this machine in a PID namespace this
 * process can see; otherwise `available` is false and the column shows "—".
 */
export class PostgresCpu {
  private constructor(
    private readonly client: Client,
    private readonly database: string,
    readonly available: boolean,
  ) {}

  /** Connects to the server's maintenance database (`adminUrl`) to watch `database`. */
  static async open(adminUrl: string, database: string): Promise<PostgresCpu> {
    const client = new Client({ connectionString: adminUrl });
    await client.connect();
    const own = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    return new PostgresCpu(client, database, readTicks(own) !== undefined);
  }

  /** CPU ticks so far of each backend connected to the database now. */
  async sample(): Promise<Map<number, number>> {
    const ticks = new Map<number, number>();
    if (!this.available) return ticks;
    const { rows } = await this.client.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [
      this.database,
    ]);
    for (const { pid } of rows) {
      const value = readTicks(pid);
      if (value !== undefined) ticks.set(pid, value);
    }
    return ticks;
  }

  /**
   * Milliseconds of backend CPU between two samples: a backend seen only in the second one
   * started in between, so all of its time counts; one gone by then is lost (connection pools
   * keep theirs through a run).
   */
  static elapsedMs(before: Map<number, number>, after: Map<number, number>): number {
    let ticks = 0;
    for (const [pid, value] of after) ticks += value - (before.get(pid) ?? 0);
    return ticks * TICK_MS;
  }

  close(): Promise<void> {
    return this.client.end();
  }
}

/** USER_HZ on Linux is 100 on every architecture Node runs on. */
const TICK_MS = 10;

function readTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count the fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}
