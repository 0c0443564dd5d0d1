/**
 * Plain HTTP that sends every request to the same path over HTTPS, at the host it was asked for
 * when that is a name camplex trusts (never to a name a client made up).
 */
import { createServer, type Server } from 'node:http';
import { hostName, isTrustedHost, type OriginPolicy } from '../access/origin.js';

export function createRedirectServer(httpsPort: number, policy: OriginPolicy): Server {
  return createServer((req, res) => {
    const name = hostName(req.headers.host);
    if (name === undefined || !isTrustedHost(req, policy)) {
      const body = 'unknown Host: add it to server.allowedHosts to be redirected to HTTPS\n';
      res.writeHead(400, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body);
      return;
    }
    const path = (req.url ?? '/').startsWith('/') ? req.url : '/';
    const target = `https://${name.includes(':') ? `[${name}]` : name}:${httpsPort}${path}`;
    res.writeHead(308, { Location: target, 'Content-Length': 0 });
    res.end();
  });
}
