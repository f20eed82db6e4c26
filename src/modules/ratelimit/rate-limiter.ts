import { DomainError, ErrorCode } from '../../shared/errors';
import type { BudgetStore } from './budget-store';

/**
 * Per-client request budgets (docs/hardening.md, "Request budgets"): every GraphQL operation,
 * legacy request and subscription start costs points, taken from its client's budget of
 * `points` per `windowMs` *before* it runs; one that does not fit is refused (429 with
 * `Retry-After`) and does not run. A client is the signed-in user, or, for requests without a
 * credential, the client address (TRUST_PROXY decides what that is).
 */
export interface RateLimitSettings {
  /** Points per window; the most one client may spend before it is refused. */
  readonly points: number;
  readonly windowMs: number;
}

/** What a client learns of its budget with every answer (headers and `extensions.rateLimit`). */
export interface RateLimitState {
  readonly admitted: boolean;
  /** Points this request cost (charged only when admitted). */
  readonly cost: number;
  readonly limit: number;
  readonly remaining: number;
  /** When the window ends, ms since the epoch. */
  readonly resetAt: number;
  /** Whole seconds until the window ends (at least 1): `RateLimit-Reset` and `Retry-After`. */
  readonly resetSeconds: number;
  readonly windowMs: number;
}

/** Who pays: a user by id, or an address for a request without a credential. */
export type RateLimitClient = { readonly userId: number } | { readonly address: string };

export type RateLimitTransport = 'graphql' | 'legacy' | 'websocket' | 'stream';

export class RateLimiter {
  constructor(
    private readonly store: BudgetStore,
    readonly settings: RateLimitSettings,
    private readonly onRefused?: (transport: RateLimitTransport) => void,
    private readonly clock: () => number = Date.now,
  ) {
    if (!Number.isSafeInteger(settings.points) || settings.points < 1) throw new RangeError('points must be an integer >= 1');
    if (!Number.isSafeInteger(settings.windowMs) || settings.windowMs < 1) throw new RangeError('windowMs must be a positive integer');
  }

  get storeKind(): BudgetStore['kind'] {
    return this.store.kind;
  }

  /**
   * Takes `cost` points (rounded up to a whole point, at least 1; an operation dearer than the
   * whole budget is charged the whole budget) from the client's window.
   */
  async take(client: RateLimitClient, cost: number, transport: RateLimitTransport): Promise<RateLimitState> {
    const { points: limit, windowMs } = this.settings;
    const charged = Math.min(Math.max(1, Math.ceil(cost)), limit);
    const now = this.clock();
    const key = 'userId' in client ? `user:${client.userId}` : `address:${client.address}`;
    const taken = await this.store.take(key, charged, limit, windowMs, now);
    if (!taken.admitted) this.onRefused?.(transport);
    return {
      admitted: taken.admitted,
      cost: charged,
      limit,
      remaining: Math.max(0, limit - taken.used),
      resetAt: taken.resetAt,
      resetSeconds: Math.max(1, Math.ceil((taken.resetAt - now) / 1000)),
      windowMs,
    };
  }
}

/** The refusal of a request that does not fit in its client's budget. */
export function budgetSpent(state: RateLimitState): DomainError {
  return new DomainError(
    ErrorCode.TOO_MANY_REQUESTS,
    `Rate limit exceeded: this request costs ${state.cost} point${state.cost === 1 ? '' : 's'} and ${state.remaining} of ${state.limit} are left in this window; ` +
      `retry in ${state.resetSeconds} s`,
    { retryAfterSeconds: state.resetSeconds },
  );
}

/**
 * The standard headers of a budget: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`
 * (seconds until the window ends) and `RateLimit-Policy` (`<points>;w=<window seconds>`), as in
 * the IETF httpapi draft's fields before it merged them; plus `Retry-After` when refused.
 */
export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  const headers: Record<string, string> = {
    'ratelimit-limit': String(state.limit),
    'ratelimit-remaining': String(state.remaining),
    'ratelimit-reset': String(state.resetSeconds),
    'ratelimit-policy': `${state.limit};w=${Math.ceil(state.windowMs / 1000)}`,
  };
  if (!state.admitted) headers['retry-after'] = String(state.resetSeconds);
  return headers;
}

/** `extensions.rateLimit` of a GraphQL answer: GitHub's and Linear's fields. */
export function rateLimitExtension(state: RateLimitState): { cost: number; limit: number; remaining: number; resetAt: string } {
  return { cost: state.cost, limit: state.limit, remaining: state.remaining, resetAt: new Date(state.resetAt).toISOString() };
}
