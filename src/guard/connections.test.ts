import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect, type Server as NetServer, type Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { createLog } from '../common/log.js';
import { ProxyTrust } from './client-address.js';
import { ConnectionGuard } from './connections.js';
import { Refusals } from './refusals.js';

interface Setup {
  guard: ConnectionGuard;
  refusals: Refusals;
  port: number;
}

const open: Array<{ front: NetServer; server: Server; guard: ConnectionGuard }> = [];
const clients: Socket[] = [];

afterEach(async () => {
  for (const socket of clients.splice(0)) socket.destroy();
  for (const { front, server, guard } of open.splice(0)) {
    guard.destroyAll();
    server.close(() => {});
    await new Promise((resolve) => front.close(resolve));
  }
});

async function setup(
  caps: { perAddress: number; total: number },
  proxies: string[] = [],
): Promise<Setup> {
  const refusals = new Refusals(createLog({ level: 'silent' }));
  const guard = new ConnectionGuard({
    caps,
    trust: new ProxyTrust(proxies),
    refusals,
    log: createLog({ level: 'silent' }),
  });
  const server = createServer((req, res) => {
    if (!guard.admit(req)) {
      res.writeHead(503, { Connection: 'close' }).end('proxied client over its cap');
      return;
    }
    res.end('ok'); // keep-alive: the connection stays open and counted
  });
  const front = await guard.listen(server, 0, '127.0.0.1', false);
  open.push({ front, server, guard });
  return { guard, refusals, port: (front.address() as AddressInfo).port };
}

/** Opens a connection from `localAddress` and sends one request; resolves with the reply. */
function request(
  port: number,
  localAddress: string,
  headers = '',
): Promise<{ socket: Socket; reply: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    clients.push(socket);
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('data', (text: string) => {
      reply += text;
      if (/\r\n\r\n[\s\S]*\S$/.test(reply)) resolve({ socket, reply });
    });
    socket.on('close', () => resolve({ socket, reply }));
    socket.write(`GET / HTTP/1.1\r\nHost: x\r\n${headers}\r\n`);
  });
}

function status(reply: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1]);
}

function refusalCount(refusals: Refusals, kind: string): number {
  return Object.fromEntries(refusals.entries())[kind] ?? 0;
}

describe('ConnectionGuard', () => {
  it('refuses a connection past the cap of its address with a readable 503, others pass', async () => {
    const { guard, refusals, port } = await setup({ perAddress: 2, total: 100 });
    for (let i = 0; i < 2; i++) assert.equal(status((await request(port, '127.0.0.2')).reply), 200);
    const refused = await request(port, '127.0.0.2');
    assert.equal(status(refused.reply), 503);
    assert.match(refused.reply, /"code":"CAMPLEX_ERR_TOO_MANY_CONNECTIONS"/);
    assert.match(refused.reply, /Retry-After: 10/);
    assert.equal(status((await request(port, '127.0.0.3')).reply), 200, 'another address');
    assert.equal(refusalCount(refusals, 'sockets-per-ip'), 1);
    assert.equal(guard.count, 3);
  });

  it('frees a slot when a connection closes', async () => {
    const { guard, port } = await setup({ perAddress: 1, total: 100 });
    const first = await request(port, '127.0.0.2');
    first.socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(guard.count, 0);
    assert.equal(status((await request(port, '127.0.0.2')).reply), 200);
  });

  it('refuses past the total cap whatever the address', async () => {
    const { refusals, port } = await setup({ perAddress: 10, total: 2 });
    await request(port, '127.0.0.2');
    await request(port, '127.0.0.3');
    assert.equal(status((await request(port, '127.0.0.4')).reply), 503);
    assert.equal(refusalCount(refusals, 'sockets-total'), 1);
  });

  it('counts a trusted proxy connection against the client it forwards, not the proxy', async () => {
    const { refusals, port } = await setup({ perAddress: 2, total: 100 }, ['127.0.0.9']);
    const forwarded = (client: string) =>
      request(port, '127.0.0.9', `X-Forwarded-For: ${client}\r\n`);
    for (let i = 0; i < 2; i++) assert.equal(status((await forwarded('192.0.2.1')).reply), 200);
    assert.equal(status((await forwarded('192.0.2.1')).reply), 503, 'this client is over its cap');
    for (let i = 0; i < 3; i++) {
      assert.equal(status((await forwarded(`192.0.2.${10 + i}`)).reply), 200, 'others are not');
    }
    assert.equal(refusalCount(refusals, 'sockets-per-ip'), 1);
  });

  it('ignores X-Forwarded-For from a peer it does not trust', async () => {
    const { port } = await setup({ perAddress: 2, total: 100 }, ['127.0.0.9']);
    const spoofed = (client: string) =>
      request(port, '127.0.0.2', `X-Forwarded-For: ${client}\r\n`);
    assert.equal(status((await spoofed('192.0.2.1')).reply), 200);
    assert.equal(status((await spoofed('192.0.2.2')).reply), 200);
    assert.equal(status((await spoofed('192.0.2.3')).reply), 503, 'counted by its own address');
  });
});
