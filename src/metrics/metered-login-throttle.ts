import { LoginThrottle, type LoginThrottleOptions } from '../modules/auth/login-throttle';
import type { LoginObserver } from './observers';

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

  override check(username: string, address: string): void {
    try {
      super.check(username, address);
    } catch (error) {
      this.observer.loginThrottled();
      throw error;
    }
  }

  override checkAddress(address: string): void {
    try {
      super.checkAddress(address);
    } catch (error) {
      this.observer.loginThrottled();
      throw error;
    }
  }

  override recordFailure(username: string, address: string): void {
    super.recordFailure(username, address);
    this.observer.loginFailed('password');
  }

  override recordAddressFailure(address: string): void {
    super.recordAddressFailure(address);
    this.observer.loginFailed('credential');
  }
}
