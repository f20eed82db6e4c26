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
}

export type Command =
  | { readonly type: 'seed'; readonly request: SeedRequest }
  | { readonly type: 'sample'; readonly gc: boolean }
  /** Commit instants (wall clock, ms) recorded since the last call, by seq; clears them. */
  | { readonly type: 'commits' }
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

export interface Ready {
  readonly type: 'ready';
  readonly url: string;
  readonly database: string;
  readonly bus: string;
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export const wallClock = (): number => performance.timeOrigin + performance.now();
