/**
 * What the live benchmark and its server process say to each other over the `fork` IPC channel.
 * Commit times, statistics and memory are instruments of the benchmark: the product gets no
 * route for them.
 */

export interface SeedRequest {
  readonly customers: number;
  readonly staff: number;
  readonly schedulers: number;
  readonly ticketsPerCustomer: number;
}

export interface SeededUser {
  readonly id: number;
  readonly username: string;
  readonly role: 'customer' | 'staff' | 'scheduler';
}

export interface SeededTicket {
  readonly id: string;
  readonly customerId: number;
  readonly staffId: number;
}

export interface SeedResult {
  readonly password: string;
  readonly users: SeededUser[];
  readonly tickets: SeededTicket[];
}

export interface ServerSample {
  /** After a full garbage collection. */
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly connections: number;
  readonly subscribers: number;
  readonly logReads: number;
  readonly ticketReads: number;
  readonly eventsFannedOut: number;
  /** Per-event GraphQL executions so far (one per distinct viewer and selection, not per socket). */
  readonly executions: number;
  /** User + system CPU time of the process so far, in µs. */
  readonly cpuMicros: number;
  /** File descriptors open in the server process, and its limit (each socket holds one). */
  readonly fds: number;
  readonly fdLimit: number;
  /** Process id (the load average is the machine's; CPU is per process). */
  readonly pid: number;
}

export type Command =
  | { readonly type: 'seed'; readonly request: SeedRequest }
  | { readonly type: 'sample'; readonly gc: boolean }
  /** Commit instants (wall clock, ms) recorded since the last call, by seq; clears them. */
  | { readonly type: 'commits' }
  /** Writes a V8 heap snapshot into `dir` (after a full GC) and returns its path. */
  | { readonly type: 'snapshot'; readonly dir: string }
  /** Starts a CPU profile, or stops it and writes it to `file` (live-profile.ts). */
  | { readonly type: 'profile'; readonly file?: string }
  | { readonly type: 'stop' };

export interface Envelope {
  readonly id: number;
  readonly command: Command;
}

export interface Reply {
  readonly id: number;
  readonly result?: unknown;
  readonly error?: string;
}

/** One subscriber for a load process to open. */
export interface PlannedSubscriber {
  readonly role: SeededUser['role'];
  readonly credential: string;
  readonly query: string;
}

/** What the benchmark asks of a load process (live-clients.ts). */
export type ClientCommand =
  | { readonly type: 'open'; readonly url: string; readonly localAddress: string; readonly subscribers: PlannedSubscriber[] }
  /** Starts (clearing what was noted) or stops noting receipts. */
  | { readonly type: 'measure'; readonly on: boolean }
  | { readonly type: 'progress' }
  /** The receipts noted in the last measured window, and this process's CPU over it. */
  | { readonly type: 'collect' }
  /** Starts a CPU profile, or stops it and writes it to `file` (live-profile.ts). */
  | { readonly type: 'profile'; readonly file?: string }
  | { readonly type: 'close' };

export interface ClientEnvelope {
  readonly id: number;
  readonly command: ClientCommand;
}

export interface ClientProgress {
  /** Scheduler dashboards in this process (they see every event). */
  readonly schedulers: number;
  /** The fewest events any of them received in the measured window (Infinity without any). */
  readonly schedulerMin: number;
}

export interface ClientReceipts {
  /** Pairs: event seq, wall-clock instant of receipt (ms). */
  readonly receipts: number[];
  readonly cpuMicros: number;
  readonly subscriptionErrors: number;
  /** Messages that did not start like a next message of their subscription and were parsed in full (since the start). */
  readonly parsedInFull: number;
  /** Connections that failed to open and were opened again (since the start). */
  readonly retries: number;
  readonly schedulerCounts: number[];
}

export interface Ready {
  readonly type: 'ready';
  readonly url: string;
  readonly database: string;
  readonly bus: string;
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export const wallClock = (): number => performance.timeOrigin + performance.now();
