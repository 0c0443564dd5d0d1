/**
 * A forward HTTP proxy that sends a few made-up host names to 127.0.0.1: how a browser without
 * a resolver rule (WebKitGTK's MiniBrowser takes `--proxy=`) opens a plain-http origin that is
 * not localhost while every byte stays on loopback. It serves absolute-form requests, WebSocket
 * upgrades in absolute form, and CONNECT tunnels (how some engines carry ws:// over a proxy);
 * any other host is refused (403), so nothing leaves the machine.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';

export interface LoopbackProxy {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  close(): Promise<void>;
}

export async function startLoopbackProxy(names: readonly string[]): Promise<LoopbackProxy> {
  const allowed = new Set([...names, '127.0.0.1', 'localhost']);
  /** The loopback port a request for `host:port` goes to, or undefined when refused. */
  const portOf = (hostname: string, port: string): number | undefined =>
    allowed.has(hostname) ? Number(port || 80) : undefined;
  const refuse = (socket: Duplex) =>
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  const sockets = new Set<Socket | Duplex>();
  const track = (socket: Socket | Duplex) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };

  const server = createServer((req, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end();
      return;
    }
    const port = portOf(target.hostname, target.port);
    if (port === undefined) {
      res.writeHead(403).end();
      return;
    }
    const upstream = request(
      {
        host: '127.0.0.1',
        port,
        path: `${target.pathname}${target.search}`,
        method: req.method,
        headers: req.headers,
      },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on('connection', track);

  // ws:// in absolute form: the request line is rewritten to origin form, headers kept.
  server.on('upgrade', (req, socket, head) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      refuse(socket);
      return;
    }
    const port = portOf(target.hostname, target.port);
    if (port === undefined) {
      refuse(socket);
      return;
    }
    const upstream = connect(port, '127.0.0.1', () => {
      const lines = [`${req.method} ${target.pathname}${target.search} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if (/^proxy-/i.test(req.rawHeaders[i] ?? '')) continue;
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      }
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    track(upstream);
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });

  server.on('connect', (req, socket, head) => {
    const [hostname = '', port = ''] = (req.url ?? '').split(':');
    const to = portOf(hostname, port);
    if (to === undefined) {
      refuse(socket);
      return;
    }
    const upstream = connect(to, '127.0.0.1', () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    track(upstream);
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
