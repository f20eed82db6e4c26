import proxyAddr from '@fastify/proxy-addr';
import type { IncomingMessage } from 'node:http';
import type { TrustProxy } from '../config';

/**
 * The client's address of a raw request, the way Fastify computes `request.ip` under the same
 * `trustProxy` setting (`TRUST_PROXY`): for WebSocket upgrades, which never become Fastify
 * requests, so graphql-ws `connection_init` is throttled under the same address as HTTP.
 */
export function clientAddressResolver(trustProxy: TrustProxy | undefined): (request: IncomingMessage) => string {
  const peer = (request: IncomingMessage) => request.socket.remoteAddress ?? 'unknown';
  if (trustProxy === undefined || trustProxy === false) return peer;
  const trust =
    trustProxy === true
      ? () => true
      : typeof trustProxy === 'number'
        ? (_address: string, hop: number) => hop < trustProxy
        : proxyAddr.compile([...trustProxy]);
  return (request) => (request.socket.remoteAddress ? proxyAddr(request, trust) : 'unknown');
}

/** `TRUST_PROXY` as Fastify's `trustProxy` option (a hop count becomes the function Fastify would build). */
export function fastifyTrustProxy(trustProxy: TrustProxy | undefined): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trustProxy === 'number') return (_address, hop) => hop < trustProxy;
  if (typeof trustProxy === 'object') return [...trustProxy];
  return trustProxy ?? false;
}
