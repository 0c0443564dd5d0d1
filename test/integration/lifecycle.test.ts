/**
 * A start that fails part-way takes down what it had built: camplex in a cluster connects to
 * NATS before it listens, so a port already in use must not leave its NATS connections open
 * (an embedding program, or a test, would keep running on them).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLog } from '../../src/common/log.js';
import { parseConfig } from '../../src/config/load.js';
import { locateFfmpeg } from '../../src/ffmpeg/locate.js';
import { startCamplex } from '../../src/server.js';
import { type NatsServer, startNatsServer } from '../../support/nats.js';
import { waitFor } from '../../support/processes.js';

const PUBLIC_DIR = fileURLToPath(new URL('../../dist/public/', import.meta.url));

/** This process's established TCP connections to `port`. */
function connectionsTo(port: number): number {
  const out = execFileSync('ss', ['-Htnp', 'state', 'established', `( dport = :${port} )`], {
    encoding: 'utf8',
  });
  return out.split('\n').filter((line) => line.includes(`pid=${process.pid},`)).length;
}

describe('a start that fails part-way', () => {
  let nats: NatsServer;
  let busy: Server;
  let busyPort: number;

  before(async () => {
    nats = await startNatsServer();
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as { port: number }).port;
  });

  after(async () => {
    await new Promise((resolve) => busy?.close(resolve));
    await nats?.stop({ forget: true });
  });

  it('closes its NATS connections when the port is taken', async () => {
    const config = parseConfig(
      [
        `server: { port: ${busyPort} }`,
        `cluster: { nats: "${nats.url}", node: lifecycle }`,
        'cameras:',
        '  front: { url: "demo:1" }',
      ].join('\n'),
      'lifecycle.yaml',
    );
    const lines: string[] = [];
    const log = createLog({
      level: 'info',
      destination: new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    });
    await assert.rejects(
      startCamplex({ config, ffmpeg: locateFfmpeg(undefined), log, publicDir: PUBLIC_DIR }),
      /cannot listen on 127\.0\.0\.1:\d+: address in use/,
    );
    assert.ok(
      lines.some((line) => line.includes('joined the cluster')),
      'it had connected to NATS',
    );
    await waitFor(() => connectionsTo(nats.port) === 0, {
      timeoutMs: 3000,
      what: 'no NATS connection left open',
    });
  });
});
