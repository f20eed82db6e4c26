/**
 * The event-writing transactions of this process that are between recording their event and
 * publishing it (or failing): the sink begins one before the statement that appends the event
 * (and, on PostgreSQL, queues its NOTIFY, sometimes with the COMMIT in the same message) and ends
 * it once the local note is handed to the hub, or once the write failed.
 *
 * Why the hub needs it: on PostgreSQL the writer's own NOTIFY reaches this process's listener
 * connection as soon as the commit is done, which can be before the writer's connection has
 * answered and its local note (the event and the ticket as the transaction left it) is published.
 * While a write is open, the hub waits for it (briefly, event-hub.ts) before reading the log.
 */
export class LocalWrites {
  private newestId = 0;
  private readonly open = new Set<number>();
  private listener: () => void = () => undefined;

  /** A write is about to send its event; the answer is for {@link end}. */
  begin(): number {
    const id = ++this.newestId;
    this.open.add(id);
    return id;
  }

  /** The write published its local note, or failed (then it published nothing). Idempotent. */
  end(id: number): void {
    if (this.open.delete(id)) this.listener();
  }

  /** The id of the newest write begun so far (0: none yet). */
  get newest(): number {
    return this.newestId;
  }

  /** Writes open now. */
  get size(): number {
    return this.open.size;
  }

  /** Whether a write begun at or before `id` is still open. */
  openThrough(id: number): boolean {
    for (const open of this.open) if (open <= id) return true;
    return false;
  }

  /** Registers the (single) listener told after each write ends. */
  onEnd(listener: () => void): void {
    this.listener = listener;
  }
}
