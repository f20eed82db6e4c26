import type { Viewer } from '../modules/user/viewer';

/**
 * Who one long-lived connection (a graphql-ws socket or a graphql-sse stream) is signed in as.
 * The viewer is replaced when the user's roles change, so every operation on the connection sees
 * with the new roles from then on (realtime/user-changes.ts).
 */
export interface LiveSignIn {
  viewer: Viewer;
  /** For a connection opened with a token: its session and maximum age. */
  readonly sessionId?: string;
  readonly expiresAt?: number;
  /** Which transport holds it (for counts and logs). */
  readonly transport: 'socket' | 'stream';
  /**
   * Ends the connection because its sign-in no longer holds (revoked, expired, deactivated): a
   * socket closes with 4403, a stream sends a final error and completes. Called at most once.
   */
  end(reason: string): void;
}

/**
 * The open sockets' and streams' sign-ins by user id, for every transport of one process: what a
 * change to a user must reach (`UserChangeFanOut`), and what the per-user connection limit counts
 * (sockets and streams together, so a client cannot double its share by mixing transports).
 */
export class LiveSignIns {
  private readonly byUser = new Map<number, Set<LiveSignIn>>();

  /** Open sockets and streams of one user in this process. */
  countOf(userId: number): number {
    return this.byUser.get(userId)?.size ?? 0;
  }

  /** Open sockets and streams of every user, by transport. */
  count(transport?: LiveSignIn['transport']): number {
    let total = 0;
    for (const set of this.byUser.values()) {
      for (const signIn of set) if (transport === undefined || signIn.transport === transport) total++;
    }
    return total;
  }

  /** The sign-ins of one user, or of every user. */
  signInsOf(userId?: number): LiveSignIn[] {
    if (userId !== undefined) return [...(this.byUser.get(userId) ?? [])];
    return [...this.byUser.values()].flatMap((set) => [...set]);
  }

  /** Counts the connection in; call synchronously after the limit check, so two cannot both pass it. */
  track(signIn: LiveSignIn): void {
    const id = signIn.viewer.id;
    let set = this.byUser.get(id);
    if (!set) this.byUser.set(id, (set = new Set()));
    set.add(signIn);
  }

  untrack(signIn: LiveSignIn): void {
    const set = this.byUser.get(signIn.viewer.id);
    if (set?.delete(signIn) && set.size === 0) this.byUser.delete(signIn.viewer.id);
  }

  /** Ends these connections: their sign-in no longer holds. */
  closeSignIns(signIns: Iterable<LiveSignIn>, reason: string): void {
    for (const signIn of signIns) {
      this.untrack(signIn);
      signIn.end(reason);
    }
  }
}
