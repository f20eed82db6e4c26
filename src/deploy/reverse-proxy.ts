import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * A small reverse proxy for the scale-out topology without Docker (`npm run topology`): the role
 * nginx plays in docker-compose.yml. Round-robin over the API processes that answer `/readyz`;
 * streams responses as they come (Server-Sent Events are not buffered); forwards WebSocket
 * upgrades as raw byte streams; a process that refuses connections is skipped for the request
 * and until its next successful health check; `/metrics` is not proxied (as in deploy/nginx.conf).
 *
 * It is a test and development tool: production deployments use a proxy built for it (the
 * compose file's nginx configuration is the reference).
 */
export interface ReverseProxyOptions {
  /** Base URLs of the API processes (`http://127.0.0.1:4001`). */
  readonly upstreams: readonly string[];
  /** How often each upstream's `/readyz` is asked. */
  readonly healthIntervalMs?: number;
  readonly log?: (message: string) => void;
}

interface Upstream {
  readonly host: string;
  readonly port: number;
  readonly label: string;
  healthy: boolean;
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade'];

export class ReverseProxy {
  readonly server: Server;
  private readonly upstreams: Upstream[];
  private next = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly log: (message: string) => void;
  private readonly sockets = new Set<Duplex>();

  constructor(options: ReverseProxyOptions) {
    if (options.upstreams.length === 0) throw new Error('at least one upstream is needed');
    this.upstreams = options.upstreams.map((base) => {
      const url = new URL(base);
      if (url.protocol !== 'http:') throw new Error(`upstream ${base}: only http:// is supported`);
      return { host: url.hostname, port: Number(url.port || 80), label: url.host, healthy: true };
    });
    this.log = options.log ?? (() => undefined);
    // Long-lived streams (SSE, sockets) must not be cut by Node's default request timeouts.
    this.server = http.createServer({ requestTimeout: 0, headersTimeout: 60_000 }, (request, response) => this.forward(request, response));
    this.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => this.forwardUpgrade(request, socket, head));
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.timer = setInterval(() => void this.checkHealth(), options.healthIntervalMs ?? 1_000);
    this.timer.unref();
  }

  async listen(port: number, host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(port, host, resolve));
    const address = this.server.address() as net.AddressInfo;
    return `http://${host}:${address.port}`;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Healthy upstreams first, in round-robin order, then the others (a last resort beats a 502). */
  private order(): Upstream[] {
    const start = this.next++ % this.upstreams.length;
    const rotated = [...this.upstreams.slice(start), ...this.upstreams.slice(0, start)];
    return [...rotated.filter((upstream) => upstream.healthy), ...rotated.filter((upstream) => !upstream.healthy)];
  }

  private async checkHealth(): Promise<void> {
    await Promise.all(
      this.upstreams.map(async (upstream) => {
        const healthy = await new Promise<boolean>((resolve) => {
          const request = http.get({ host: upstream.host, port: upstream.port, path: '/readyz', timeout: 2_000, agent: false }, (response) => {
            response.resume();
            resolve(response.statusCode === 200);
          });
          request.once('timeout', () => request.destroy());
          request.once('error', () => resolve(false));
        });
        if (healthy !== upstream.healthy) this.log(`upstream ${upstream.label} is ${healthy ? 'up' : 'down'}`);
        upstream.healthy = healthy;
      }),
    );
  }

  private headersFor(request: IncomingMessage): http.OutgoingHttpHeaders {
    const headers: http.OutgoingHttpHeaders = { ...request.headers };
    for (const name of HOP_BY_HOP) delete headers[name];
    const client = request.socket.remoteAddress ?? '';
    headers['x-forwarded-for'] = request.headers['x-forwarded-for'] ? `${request.headers['x-forwarded-for']}, ${client}` : client;
    headers['x-forwarded-proto'] = 'http';
    headers['x-forwarded-host'] = request.headers.host ?? '';
    return headers;
  }

  /**
   * Opens a connection to the first upstream that accepts one. Nothing of the request has been
   * sent when a connection is refused, so trying the next upstream is safe for any method.
   */
  private connect(candidates: Upstream[]): Promise<{ socket: Socket; upstream: Upstream }> {
    return new Promise((resolve, reject) => {
      const attempt = (index: number) => {
        const upstream = candidates[index];
        if (!upstream) return reject(new Error('no upstream accepted the connection'));
        const socket = net.connect({ host: upstream.host, port: upstream.port });
        socket.once('connect', () => {
          socket.removeAllListeners('error');
          resolve({ socket, upstream });
        });
        socket.once('error', () => {
          if (upstream.healthy) this.log(`upstream ${upstream.label} refused a connection; marked down`);
          upstream.healthy = false;
          socket.destroy();
          attempt(index + 1);
        });
      };
      attempt(0);
    });
  }

  private forward(request: IncomingMessage, response: ServerResponse): void {
    // Each process has its own counters: Prometheus scrapes each one, never a random one of them.
    if ((request.url ?? '').split('?')[0] === '/metrics') {
      request.resume();
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"code":404,"message":"Scrape each API process\'s /metrics directly"}');
      return;
    }
    this.connect(this.order()).then(
      ({ socket, upstream }) => {
        const outgoing = http.request(
          {
            host: upstream.host,
            port: upstream.port,
            method: request.method,
            path: request.url,
            headers: this.headersFor(request),
            createConnection: () => socket,
          },
          (upstreamResponse) => {
            const headers = { ...upstreamResponse.headers };
            for (const name of HOP_BY_HOP) delete headers[name];
            response.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.statusMessage, headers);
            // Each chunk goes out as it arrives: an SSE stream's events are not held back.
            response.flushHeaders();
            upstreamResponse.pipe(response);
            // An upstream that dies mid-response (a killed process) must cut the client's response
            // too: `pipe` would leave it open, and an SSE client would wait on a silent stream
            // instead of reconnecting to a live process.
            upstreamResponse.once('close', () => {
              if (!upstreamResponse.complete) response.destroy();
            });
          },
        );
        outgoing.once('error', (error) => {
          this.log(`${request.method} ${request.url} to ${upstream.label} failed: ${error.message}`);
          if (!response.headersSent) response.writeHead(502, { 'content-type': 'application/json' }).end('{"code":502,"message":"Bad gateway"}');
          else response.destroy();
        });
        response.once('close', () => {
          if (!response.writableFinished) outgoing.destroy();
        });
        request.pipe(outgoing);
      },
      () => {
        this.log(`${request.method} ${request.url}: no upstream accepted the connection`);
        request.resume();
        response.writeHead(502, { 'content-type': 'application/json' }).end('{"code":502,"message":"No API process is reachable"}');
      },
    );
  }

  private forwardUpgrade(request: IncomingMessage, client: Duplex, head: Buffer): void {
    this.sockets.add(client);
    client.once('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    this.connect(this.order()).then(
      ({ socket }) => {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
        const headers = this.headersFor(request);
        headers.connection = 'Upgrade';
        headers.upgrade = request.headers.upgrade ?? 'websocket';
        const lines = [`${request.method} ${request.url} HTTP/1.1`];
        for (const [name, value] of Object.entries(headers)) {
          for (const item of Array.isArray(value) ? value : [value]) if (item !== undefined) lines.push(`${name}: ${item}`);
        }
        socket.write(`${lines.join('\r\n')}\r\n\r\n`);
        if (head.length) socket.write(head);
        socket.on('error', () => client.destroy());
        socket.once('close', () => client.destroy());
        client.once('close', () => socket.destroy());
        socket.pipe(client);
        client.pipe(socket);
      },
      () => {
        client.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      },
    );
  }
}
