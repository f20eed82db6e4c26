import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';

/** What the subscription context tells about its viewer: results are shared only between equals. */
export interface ViewerKeyed {
  /** Identical for two contexts exactly when every field resolves the same for both. */
  readonly viewerKey: string;
}

const hasViewerKey = (value: unknown): value is ViewerKeyed =>
  typeof value === 'object' && value !== null && typeof (value as Partial<ViewerKeyed>).viewerKey === 'string';

/** Results per event object, then per document, then per viewer/variables/operation. */
const shared = new WeakMap<object, Map<DocumentNode, Map<string, Promise<ExecutionResult>>>>();

/** How many per-event results were computed and how many were reused (the benchmark reports it). */
export const sharedExecutionStats = { executed: 0, reused: 0 };

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

  async next(): Promise<IteratorResult<ExecutionResult, undefined>> {
    const item = await this.iterator.next();
    if (item.done) return { value: undefined, done: true };
    return { value: await this.resultFor(item.value), done: false };
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

  private resultFor(payload: unknown): Promise<ExecutionResult> {
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

  private async run(payload: unknown): Promise<ExecutionResult> {
    return execute({ ...this.args, rootValue: payload });
  }
}
