import { EntityManager, LockMode } from '@mikro-orm/core';
import { notFound } from '../../shared/errors';
import type { ChangeSink, ChangeWrites, TicketChange } from '../event/ticket-change';
import type { SqlStatement } from '../../db/sql';
import { writeTransaction } from '../../db/write-transaction';
import type { Viewer } from '../user/viewer';
import { Ticket } from './ticket.entity';
import type { TicketOperation } from './ticket.rules';
import { ruleConditionSql, ruleParams } from './ticket.rules.sql';

/** Loads a ticket for change, holding its row lock until the transaction ends. */
export async function lockTicket(tem: EntityManager, id: string): Promise<Ticket> {
  const ticket = await tem.findOne(Ticket, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  if (!ticket) throw notFound('Ticket not found');
  return ticket;
}

/**
 * The write path of everything that changes a ticket (its status and content, its replies): one
 * transaction that flushes the work and records the changes it reports, then publishes them
 * after the commit (or reports them failed). The ticket and reply services each hold one over the same change sink.
 */
export class TicketUnitOfWork {
  constructor(private readonly changes: ChangeSink) {}

  /**
   * `afterFlush` runs inside the transaction once the work is flushed, before the changes are
   * recorded: where a write reads what it left (the ticket for its change's outcome).
   */
  async run<T>(
    em: EntityManager,
    work: (tem: EntityManager, changes: TicketChange[]) => Promise<T>,
    afterFlush?: (tem: EntityManager, changes: TicketChange[]) => Promise<void>,
  ): Promise<T> {
    const changes: TicketChange[] = [];
    let result: T;
    try {
      result = await em.transactional(async (tem) => {
        const value = await work(tem, changes);
        await tem.flush();
        await afterFlush?.(tem, changes);
        for (const change of changes) await this.changes.record(tem, change);
        return value;
      });
    } catch (error) {
      for (const change of changes) this.changes.failed(change);
      throw error;
    }
    for (const change of changes) this.changes.committed(change);
    return result;
  }
}

/** A change planned at a time: what it records and the writes it makes (see {@link LockedWrite.plan}). */
export interface PlannedChange {
  readonly change: TicketChange;
  readonly writes: ChangeWrites;
}

/**
 * The condition a {@link LockedWrite}'s statement puts on the ticket's row `alias`: the rule table
 * allows the write on it (ticket.rules.sql.ts), and its last change is before a bound (this
 * write's time, or `infinity` once the write was decided under the lock). Its parameters are the
 * `condition` {@link LockedWrite.plan} is given, in order.
 */
export const lockedWriteConditionSql = (alias: string): string => `${ruleConditionSql(alias)} and ${alias}.updated_at < ?::timestamptz`;

/**
 * A write to one ticket that locks its row and writes only where the rule table allows it on the
 * row it locked (transitions, replies): the statements and the decisions {@link writeLocked} runs.
 */
export interface LockedWrite<D extends { readonly updatedAt: number }, P extends PlannedChange, T> {
  /** Who writes and what the rule table is asked about it. */
  readonly viewer: Viewer;
  readonly operation: TicketOperation;
  /** The statement that locks the ticket's row and reads it (TicketReader.lockStatement). */
  readonly lock: SqlStatement;
  /** Reads the locked ticket's rows and decides on them (throws the refusal); `updatedAt`: the ticket's last change. */
  decide(rows: readonly unknown[]): D;
  /**
   * The change at `at` and its writes (ids drawn now), on the decision when it was made before
   * the write was sent. The writes must hold {@link lockedWriteConditionSql} on the ticket's row,
   * with `condition` as its parameters (else they write nothing).
   */
  plan(at: Date, decided: D | undefined, condition: readonly unknown[]): P;
  /** The answer once the write ran: throws when it did not write (`written` false) on an allowed decision. */
  answer(decided: D, planned: P, written: boolean): T;
}

/**
 * Runs a {@link LockedWrite} in **one round trip** where it can: the locking read and the writes
 * (only where the rule table allows them on the locked row, and only when the ticket's last
 * change is before this write's time) in one message, one implicit transaction
 * (db/write-transaction.ts `executeAll`); then `decide` on the locked row as read words a
 * refusal, which wrote nothing.
 *
 * The time (and the ids, UUIDv7, drawn with it) is taken before the lock is held, so another
 * write may commit on the ticket in between: then the ticket's `updated_at` is at or after this
 * time, this write's statement writes nothing, and it runs again **locked first** (two round
 * trips: the lock and read, the decision in JavaScript, then the time and the writes with the
 * commit). So every change of a ticket still carries a later time and a larger id than the
 * changes committed before it (every change moves `updated_at`), as when the time was always
 * taken under the lock. `lockFirst` starts there (ASSIGN: its staff member is checked between).
 */
export async function writeLocked<D extends { readonly updatedAt: number }, P extends PlannedChange, T>(
  em: EntityManager,
  sink: ChangeSink,
  write: LockedWrite<D, P, T>,
  options: { lockFirst?: boolean } = {},
): Promise<T> {
  if (!options.lockFirst) {
    const done = await attempt(em, sink, write, false);
    if (done) return done.value;
  }
  return (await attempt(em, sink, write, true))!.value;
}

/**
 * One transaction of {@link writeLocked}: locked first (lock and decide, then write and commit),
 * or in one message (lock, write and commit; then decide). Undefined when the ticket changed at
 * or after this write's time (nothing written).
 */
async function attempt<D extends { readonly updatedAt: number }, P extends PlannedChange, T>(
  em: EntityManager,
  sink: ChangeSink,
  write: LockedWrite<D, P, T>,
  lockFirst: boolean,
): Promise<{ value: T } | undefined> {
  let change: TicketChange | undefined;
  const result = await writeTransaction(em, async (transaction) => {
    let decided: D | undefined;
    if (lockFirst) decided = write.decide((await transaction.executeAll([write.lock]))[0]!);
    const at = new Date();
    const planned = write.plan(at, decided, [...ruleParams(write.viewer, write.operation), lockFirst ? 'infinity' : at]);
    change = planned.change;
    const record = sink.recordWith(change, planned.writes);
    transaction.commitWithNextStatement();
    const rows = await transaction.executeAll(lockFirst ? [record.statement] : [write.lock, record.statement]);
    const written = record.settle(rows.at(-1)!);
    if (!decided) {
      try {
        decided = write.decide(rows[0]!);
      } catch (error) {
        // The statement's condition is the rule table's own answer on the same locked row.
        if (written) throw new Error(`A write to ticket ${change.ticketId} was refused by the rule table and made by its statement`, { cause: error });
        throw error;
      }
      if (!written && decided.updatedAt >= at.getTime()) return undefined;
    }
    return { value: write.answer(decided, planned, written) };
  }).catch((error: unknown) => {
    // Nothing (or not known to be anything) committed: the sink stops waiting for this write.
    if (change) sink.failed(change);
    throw error;
  });
  // A write that wrote nothing was reported failed by `settle`; this is then a no-op.
  if (change) sink.committed(change);
  return result;
}
