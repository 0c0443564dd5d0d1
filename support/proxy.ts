/**
 * A minimal reverse proxy in front of camplex whose WebSocket upgrades can be refused, like a
 * proxy that does not pass `Upgrade` through: plain HTTP still works, the socket does not.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';

export interface UpgradeProxy {
  /** http://127.0.0.1:PORT/ */
  readonly url: string;
  /** While true, every upgrade is answered 502 and closed. */
  blockUpgrades: boolean;
  close(): Promise<void>;
}

/** Proxies to `target` (http://host:port/). */
export async function startUpgradeProxy(target: string): Promise<UpgradeProxy> {
  const { hostname, port } = new URL(target);
  const server: Server = createServer((req, res) => {
    const upstream = request(
      { host: hostname, port, path: req.url, method: req.method, headers: req.headers },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  const proxy: UpgradeProxy = {
    url: '',
    blockUpgrades: true,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('upgrade', (req, socket, head) => {
    if (proxy.blockUpgrades) {
      socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const upstream = connect(Number(port), hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      }
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return Object.assign(proxy, { url: `http://127.0.0.1:${address.port}/` });
}
