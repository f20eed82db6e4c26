import type { UserChange } from '../modules/user/user-change';
import type { Viewer } from '../modules/user/viewer';

/** User changes remembered for connections that were authenticating while they arrived. */
const RECENT_CHANGES = 1_000;

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
  /** How many user changes this process has seen, and the latest of them (`undefined`: changes may have been lost). */
  private changesSeen = 0;
  private readonly recentChanges: Array<{ readonly seq: number; readonly change: UserChange | undefined }> = [];
  private catchUp: ((signIn: LiveSignIn, missed: ReadonlyArray<UserChange | undefined>) => void) | undefined;

  /**
   * Where the changes stand: a transport takes this before it authenticates a connection and
   * hands it to {@link track}. A change that arrives while the connection is being authenticated
   * finds nothing to close yet (the connection is not tracked), and the authentication may have
   * read the user before it: `track` hands such changes to the fan-out, which applies them to the
   * new connection at once instead of at its next periodic check.
   */
  mark(): number {
    return this.changesSeen;
  }

  /** A change to a user (or, `undefined`, changes possibly lost) as it arrives on this process. */
  noteChange(change: UserChange | undefined): void {
    this.changesSeen += 1;
    this.recentChanges.push({ seq: this.changesSeen, change });
    if (this.recentChanges.length > RECENT_CHANGES) this.recentChanges.shift();
  }

  /** Who applies missed changes to a connection tracked late (realtime/user-changes.ts). */
  onMissedChanges(catchUp: (signIn: LiveSignIn, missed: ReadonlyArray<UserChange | undefined>) => void): void {
    this.catchUp = catchUp;
  }

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

  /**
   * Counts the connection in; call synchronously after the limit check, so two cannot both pass
   * it. `since` is the {@link mark} taken before the connection was authenticated: changes to its
   * user that arrived after it are applied to it now.
   */
  track(signIn: LiveSignIn, since?: number): void {
    const id = signIn.viewer.id;
    let set = this.byUser.get(id);
    if (!set) this.byUser.set(id, (set = new Set()));
    set.add(signIn);
    if (since === undefined || since === this.changesSeen || !this.catchUp) return;
    const missed = this.changesSince(since, id);
    if (missed.length) this.catchUp(signIn, missed);
  }

  private changesSince(since: number, userId: number): Array<UserChange | undefined> {
    // Older than what is kept: not known which, so every check runs.
    if (!this.recentChanges.length || this.recentChanges[0].seq > since + 1) return [undefined];
    return this.recentChanges.filter(({ seq, change }) => seq > since && (change === undefined || change.userId === userId)).map(({ change }) => change);
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
