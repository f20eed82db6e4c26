import autocannon from 'autocannon';
import type { Target } from './targets';

/** One measured run of one target. */
export interface LoadResult {
  readonly requests: number;
  readonly requestsPerSecond: number;
  /** Milliseconds. */
  readonly p50: number;
  readonly p99: number;
  /** Requests that failed: transport errors, timeouts, non-2xx and GraphQL `errors` bodies. */
  readonly failed: number;
  /** The start of the first unsuccessful response body, to say what went wrong. */
  readonly firstFailure?: string;
}

/**
 * Sends `target`'s requests for `seconds` over `connections` keep-alive connections (autocannon,
 * in this process: the server under test runs in another one).
 */
export async function load(url: string, target: Target, seconds: number, connections: number): Promise<LoadResult> {
  let firstFailure: string | undefined;
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: target.path,
        headers: target.headers,
        // Only writes need a new body per request (rebuilding costs the load generator time); a
        // write's body is made only when autocannon asks, so none is generated and never sent.
        ...(target.dynamic ? { setupRequest: (request: autocannon.Request) => ({ ...request, body: target.nextBody() }) } : { body: target.nextBody() }),
      },
    ],
    // A non-2xx body fails this too, so mismatches count every unsuccessful response once.
    verifyBody: (body) => {
      const ok = target.isSuccess(200, body);
      if (!ok) firstFailure ??= body.slice(0, 300);
      return ok;
    },
  });
  const failedHttp = Object.entries(result.statusCodeStats)
    .filter(([status]) => !status.startsWith('2'))
    .reduce((sum, [, { count }]) => sum + count, 0);
  return {
    requests: result.requests.total,
    requestsPerSecond: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failed: Math.max(result.mismatches, failedHttp) + result.errors,
    firstFailure,
  };
}
