/**
 * What the transports and the live-update machinery report to metrics, as plain callbacks: the
 * code that reports knows nothing of prom-client, and reports nothing when metrics are off
 * (the observer is then undefined).
 */

/** Live updates of one process (realtime/). */
export interface LiveObserver {
  /** A change's event committed (written to the log by this process). */
  eventWritten(): void;
  /** An event was handed to a subscriber's transport; `at` is the event's time (ms since the epoch). */
  eventDelivered(at: number): void;
  /** A subscriber was cut off for falling behind: its `count` undelivered events were dropped. */
  eventsDropped(count: number): void;
}

/** Sign-in attempts (modules/auth). */
export interface LoginObserver {
  /** A failed sign-in: a wrong username or password, or a credential that does not decode. */
  loginFailed(reason: 'password' | 'credential'): void;
  /** An attempt refused by the throttle before any password was checked. */
  loginThrottled(): void;
}
