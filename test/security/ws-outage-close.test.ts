import { CLOSE_UNAVAILABLE } from '../../src/realtime/graphql-ws.server';
import { readiness, waitFor } from '../support/faults';
import { pgClusterUnavailableReason, serverOnPrivateCluster, type PgCluster } from '../support/pg-cluster';
import type { TestServer } from '../support/server';
import { rawSockets } from '../support/raw-socket';

/**
 * Issue 9, "Faults left open": a graphql-ws connection whose credential cannot be checked because
 * the database is away used to be closed with 4403 (Forbidden), which tells a client its
 * credential is wrong, so it stops. It is now closed with 4503 and a reason: graphql-ws's client
 * retries it (4403 stays for credentials that are wrong, which need no database to refuse when
 * they do not decode). Sockets open before the outage are not affected.
 *
 * PostgreSQL on a private cluster this suite stops and starts; the embedded database lives in the
 * server's process and is never away while the server is up.
 */
const skipReason = pgClusterUnavailableReason();
if (skipReason) console.warn(`ws-outage-close: skipped, ${skipReason}`);

(skipReason ? describe.skip : describe)('a WebSocket opened while the database is away (postgres, private cluster)', () => {
  let cluster: PgCluster;
  let server: TestServer;
  const { open, closeAll } = rawSockets(() => server);

  serverOnPrivateCluster({ databaseAcquireTimeoutMs: 1_000 }, (started, privateCluster) => ([server, cluster] = [started, privateCluster]), closeAll);

  it('is closed with 4503 and a reason to retry, not 4403; once it is back the same credential connects', async () => {
    const { customer, scheduler } = server.users;
    // Connected before the outage: stays.
    const before = open(scheduler.credential);
    expect(await before.acked).toBe(true);

    await cluster.stop('fast');
    try {
      // A credential this server has never verified: checking it needs the database.
      const during = open(customer.credential);
      expect(await during.acked).toBe(false);
      expect(await during.closed).toEqual({ code: CLOSE_UNAVAILABLE, reason: 'The service is temporarily unavailable, retry shortly' });
      // A credential that does not even decode is refused as before: no database needed for that.
      const junk = open('not a credential');
      expect(await junk.closed).toEqual({ code: 4403, reason: 'Forbidden' });
    } finally {
      await cluster.start();
    }
    // Back once the server says so: its first new connection to a cold cluster may take longer than
    // this suite's 1 s acquire bound on a loaded machine. (A CI run saw no acknowledgement here; its
    // log did not say how the socket was closed, which the check below now shows.)
    await waitFor('/readyz 200', async () => (await readiness(server.url)) === 200, 30_000, 50);
    const after = open(customer.credential);
    // Not acknowledged: the failure shows the close code and reason.
    expect((await after.acked) ? 'acked' : await after.closed).toBe('acked');
    expect(before.ws.readyState).toBe(before.ws.OPEN);
  }, 60_000);
});
