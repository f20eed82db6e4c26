import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';

/** What the subscription context tells about its viewer: results are shared only between equals. */
export interface ViewerKeyed {
  /** Identical for two contexts exactly when every field resolves the same for both. */
  readonly viewerKey: string;
}

const hasViewerKey = (value: unknown): value is ViewerKeyed =>
  typeof value === 'object' && value !== null && typeof (value as Partial<ViewerKeyed>).viewerKey === 'string';

/** Results per event object, then per document, then per viewer/variables/operation. */
const shared = new WeakMap<object, Map<DocumentNode, Map<string, Next>>>();

/** One event's result as the iterator hands it over: shared by the subscriptions that share the result. */
type Next = IteratorResult<ExecutionResult, undefined> | Promise<IteratorResult<ExecutionResult, undefined>>;

const DONE: IteratorResult<ExecutionResult, undefined> = Object.freeze({ value: undefined, done: true });

/**
 * How many per-event results were computed and how many were reused, and how many were serialised
 * ({@link serialisedOnce}; the benchmark reports them).
 */
export const sharedExecutionStats = { executed: 0, reused: 0, serialised: 0 };

/**
 * `subscribe` for graphql-ws: like graphql-js's, except that one event is executed once per
 * (viewer, document, variables), not once per subscription. A user with the same dashboard open
 * in 30 tabs costs one execution per event, not 30; different viewers never share a result, so
 * flags and visibility stay each viewer's own.
 *
 * Safe because the hub hands every subscriber of a process the same payload object for an event
 * (so it can key the cache, and the cache entry dies with it), identical queries share one parsed
 * document (the document cache), and every field of a ticket event resolves from the payload, the
 * viewer and the server's public URL only.
 */
export async function subscribeShared(args: ExecutionArgs): Promise<AsyncGenerator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in source)) return source;
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<unknown>;
  const key = hasViewerKey(args.contextValue)
    ? `${args.contextValue.viewerKey}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}`
    : undefined;
  return new SharedResults(iterator, args, key);
}

/**
 * One subscription's results: its source's events, each executed once per (viewer, document,
 * variables) and shared. A class rather than an object of closures: a process holds one per live
 * subscription, tens of thousands of them, and methods on a prototype cost nothing per instance.
 * Written by hand like LiveSubscription, so `return()` reaches the source at once.
 */
class SharedResults implements AsyncGenerator<ExecutionResult> {
  constructor(
    private readonly iterator: AsyncIterator<unknown>,
    private readonly args: ExecutionArgs,
    /** Undefined when the context names no viewer: nothing is shared. */
    private readonly key: string | undefined,
  ) {}

  /**
   * Not an async function: one event costs one promise here (the source's), and its result, once
   * executed, is handed over as the very iterator result every sharing subscription gets.
   */
  next(): Promise<IteratorResult<ExecutionResult, undefined>> {
    return this.iterator.next().then(this.resultOf);
  }

  async return(): Promise<IteratorResult<ExecutionResult, undefined>> {
    await this.iterator.return?.();
    return { value: undefined, done: true };
  }

  async throw(error: unknown): Promise<IteratorResult<ExecutionResult, undefined>> {
    await this.iterator.return?.();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.iterator.return?.();
  }

  private readonly resultOf = (item: IteratorResult<unknown>): Next => (item.done ? DONE : this.resultFor(item.value));

  private resultFor(payload: unknown): Next {
    const { key, args } = this;
    if (key === undefined || typeof payload !== 'object' || payload === null) return this.run(payload);
    let byDocument = shared.get(payload);
    if (!byDocument) shared.set(payload, (byDocument = new Map()));
    let byKey = byDocument.get(args.document);
    if (!byKey) byDocument.set(args.document, (byKey = new Map()));
    let result = byKey.get(key);
    if (result) {
      sharedExecutionStats.reused++;
    } else {
      sharedExecutionStats.executed++;
      result = this.run(payload);
      byKey.set(key, result);
    }
    return result;
  }

  /** Executes the event: a plain iterator result when execution finished at once (every field resolves synchronously), a promise otherwise. */
  private run(payload: unknown): Next {
    const result = execute({ ...this.args, rootValue: payload });
    return isPromise(result) ? result.then((value) => ({ value, done: false })) : { value: result, done: false };
  }
}

const isPromise = <T>(value: T | Promise<T>): value is Promise<T> => typeof (value as { then?: unknown } | null)?.then === 'function';

/** A result's JSON text, made once per result object (see {@link serialisedOnce}). */
export class SerialisedResult {
  constructor(readonly json: string) {}
}

const serialised = new WeakMap<ExecutionResult, SerialisedResult>();

/**
 * The JSON text of an execution result, serialised once however many subscriptions send it:
 * {@link subscribeShared} hands every subscription of a viewer class the same result object for
 * an event, so the sockets of that class send one text instead of re-serialising it each (the
 * text dies with the result, which dies with the event). A result with errors is not meant
 * for this: each transport formats those itself.
 */
export function serialisedOnce(result: ExecutionResult): SerialisedResult {
  let text = serialised.get(result);
  if (!text) {
    sharedExecutionStats.serialised++;
    serialised.set(result, (text = new SerialisedResult(JSON.stringify(result))));
  }
  return text;
}
