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
}

/**
 * Sends `target`'s requests for `seconds` over `connections` keep-alive connections (autocannon,
 * in this process: the server under test runs in another one).
 */
export async function load(url: string, target: Target, seconds: number, connections: number): Promise<LoadResult> {
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
        body: target.nextBody(),
        // Only writes need a new body per request; rebuilding costs the load generator time.
        ...(target.dynamic ? { setupRequest: (request: autocannon.Request) => ({ ...request, body: target.nextBody() }) } : {}),
      },
    ],
    // A non-2xx body fails this too, so mismatches count every unsuccessful response once.
    verifyBody: (body) => target.isSuccess(200, body),
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
  };
}
