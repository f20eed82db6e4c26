import { LoginThrottle, type LoginAttempt, type LoginThrottleOptions } from '../modules/auth/login-throttle';
import { DomainError, ErrorCode } from '../shared/errors';
import type { LoginObserver } from './observers';

const isThrottled = (error: unknown): boolean => error instanceof DomainError && error.code === ErrorCode.TOO_MANY_REQUESTS;

/**
 * The failed-login throttle, reporting what it sees: failures, and attempts it refuses. Every
 * sign-in path (GraphQL, legacy, uploads, graphql-ws) goes through it, so it counts them all.
 */
export class MeteredLoginThrottle extends LoginThrottle {
  constructor(
    options: LoginThrottleOptions,
    private readonly observer: LoginObserver,
  ) {
    super(options);
  }

  override async admit(username: string, address: string): Promise<LoginAttempt> {
    let attempt: LoginAttempt;
    try {
      attempt = await super.admit(username, address);
    } catch (error) {
      if (isThrottled(error)) this.observer.loginThrottled();
      throw error;
    }
    return {
      ...attempt,
      failed: async () => {
        await attempt.failed();
        this.observer.loginFailed('password');
      },
    };
  }

  override async recordAddressFailure(address: string): Promise<void> {
    try {
      await super.recordAddressFailure(address);
    } catch (error) {
      if (isThrottled(error)) this.observer.loginThrottled();
      throw error;
    }
    this.observer.loginFailed('credential');
  }
}
