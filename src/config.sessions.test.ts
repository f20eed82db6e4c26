import { ConfigError, DEFAULT_SESSION_TIMEOUTS, loadConfig } from './config';

const load = (env: Record<string, string>) => loadConfig({ CREDENTIAL_KEY: 'ab'.repeat(32), DATA_DIR: '/nonexistent', ...env });

describe('session settings', () => {
  it('default to two hours idle and one day at most', () => {
    const config = load({});
    expect([config.sessionIdleTimeoutMs, config.sessionMaxAgeMs]).toEqual([
      DEFAULT_SESSION_TIMEOUTS.sessionIdleTimeoutMs,
      DEFAULT_SESSION_TIMEOUTS.sessionMaxAgeMs,
    ]);
    expect(DEFAULT_SESSION_TIMEOUTS).toEqual({ sessionIdleTimeoutMs: 7_200_000, sessionMaxAgeMs: 86_400_000 });
  });

  it('are read in seconds', () => {
    const config = load({ SESSION_IDLE_TIMEOUT_SECONDS: '900', SESSION_MAX_AGE_SECONDS: '43200' });
    expect([config.sessionIdleTimeoutMs, config.sessionMaxAgeMs]).toEqual([900_000, 43_200_000]);
  });

  it.each([
    ['SESSION_IDLE_TIMEOUT_SECONDS', '59', /SESSION_IDLE_TIMEOUT_SECONDS must be a number of seconds from 60 to 31536000, got "59"/],
    ['SESSION_IDLE_TIMEOUT_SECONDS', '1.5', /SESSION_IDLE_TIMEOUT_SECONDS must be a number of seconds/],
    ['SESSION_IDLE_TIMEOUT_SECONDS', 'two hours', /SESSION_IDLE_TIMEOUT_SECONDS must be a number of seconds/],
    ['SESSION_MAX_AGE_SECONDS', '31536001', /SESSION_MAX_AGE_SECONDS must be a number of seconds/],
    ['SESSION_MAX_AGE_SECONDS', '-5', /SESSION_MAX_AGE_SECONDS must be a number of seconds/],
  ])('%s=%p is a configuration error naming it', (name, value, message) => {
    expect(() => load({ [name]: value })).toThrow(ConfigError);
    expect(() => load({ [name]: value })).toThrow(message);
  });

  it('refuses an idle timeout longer than the maximum age', () => {
    expect(() => load({ SESSION_IDLE_TIMEOUT_SECONDS: '7200', SESSION_MAX_AGE_SECONDS: '3600' })).toThrow(
      'SESSION_IDLE_TIMEOUT_SECONDS (7200) must not exceed SESSION_MAX_AGE_SECONDS (3600)',
    );
  });
});
