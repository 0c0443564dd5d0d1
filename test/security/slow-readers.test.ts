/**
 * Clients that open MJPEG streams and WebSockets and never read them. Node cannot size a TCP
 * socket's send buffer (the kernel lets each grow to tcp_wmem's maximum, 4 MiB here), so what
 * one address can pin is bounded by its connection cap: at most maxSocketsPerIp x (camplex's own
 * buffer + one frame + the kernel's send buffer), until the slow-viewer rule closes them. This
 * measures the kernel's send queues with `ss` and camplex's memory in /proc while they fill.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../../support/processes.js';
import { buildFrame, Opcode, openRawWebSocket } from './raw-websocket.js';
import {
  assertStillServing,
  startWatched,
  stopWatched,
  type Watched,
  waitForEntry,
} from './watch.js';

const CAP = 16;
const ATTACKER = '127.0.6.1';
const SLOW_VIEWER_SECONDS = 4;
const MAX_BUFFERED = 1024 * 1024;
const MAX_FRAME = 1024 * 1024;
const MIB = 1024 * 1024;

/** The kernel's largest TCP send buffer (tcp_wmem's third field). */
function kernelSendBuffer(): number {
  const fields = readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8').trim().split(/\s+/);
  return Number(fields[2]);
}

/** Bytes in the kernel's send queues of camplex's connections to `peer`. */
function sendQueued(port: number, peer: string): { connections: number; bytes: number } {
  const out = execFileSync('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`], {
    encoding: 'utf8',
  });
  let connections = 0;
  let bytes = 0;
  for (const line of out.split('\n')) {
    const [recvQ, sendQ, , remote] = line.trim().split(/\s+/);
    if (recvQ === undefined || !remote?.startsWith(`${peer}:`)) continue;
    connections++;
    bytes += Number(sendQ);
  }
  return { connections, bytes };
}

function residentBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

/** An MJPEG request whose response is never read after its first bytes. */
function stalledMjpeg(port: number): Promise<{ socket: Socket; status: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: ATTACKER }, () => {
      socket.write('GET /mjpeg/big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    });
    socket.once('data', (chunk: Buffer) => {
      socket.pause(); // and never read again: the kernel's queues fill
      resolve({ socket, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(chunk.toString())?.[1]) });
    });
    socket.on('error', reject);
  });
}

/** A WebSocket that subscribes to the camera, then never reads. */
async function stalledWebSocket(port: number): Promise<{ socket: Socket; status: number }> {
  try {
    const ws = await openRawWebSocket(
      { port, localAddress: ATTACKER },
      { Host: `127.0.0.1:${port}` },
    );
    const subscribe = JSON.stringify({ cmd: 'subscribe', cameras: ['big'] });
    ws.write(buildFrame({ opcode: Opcode.TEXT, payload: subscribe }));
    ws.socket.pause();
    return { socket: ws.socket, status: 101 };
  } catch (error) {
    const status = /expected 101, got (\d{3})/.exec((error as Error).message)?.[1];
    if (status === undefined) throw error;
    return { socket: connect({ port }).destroy(), status: Number(status) };
  }
}

describe('readers that stop reading', () => {
  let watched: Watched;

  before(async () => {
    watched = await startWatched({
      config: [
        'limits:',
        `  maxSocketsPerIp: ${CAP}`,
        'stream:',
        `  slowViewerSeconds: ${SLOW_VIEWER_SECONDS}`,
        `  maxBufferedBytes: ${MAX_BUFFERED}`,
        `  maxFrameBytes: ${MAX_FRAME}`,
        'cameras:',
        // Large, fast frames fill the queues in seconds: ~2-4 MB/s per reader.
        '  big: { url: "demo:5", width: 1280, fps: 25, quality: 3 }',
      ],
      args: ['--demo', '1'],
      cameras: ['big', 'demo-01'],
    });
  });

  after(() => stopWatched(watched));

  it(`pins at most ${CAP} x (own buffer + frame + kernel buffer) from one address, then closes them`, async (t) => {
    const [since, mark] = [Date.now(), watched.camplex.lines.length];
    const { port } = watched;
    const rssBefore = residentBytes(watched.camplex.pid);
    const attempts = [];
    for (let i = 0; i < CAP + 8; i++) {
      attempts.push(await (i % 2 === 0 ? stalledMjpeg(port) : stalledWebSocket(port)));
    }
    const statuses = attempts.map((attempt) => attempt.status);
    assert.equal(statuses.filter((s) => s === 200 || s === 101).length, CAP, statuses.join());
    assert.equal(statuses.filter((s) => s === 503).length, 8, 'the rest refused');

    const kernel = kernelSendBuffer();
    const bound = CAP * (MAX_BUFFERED + MAX_FRAME + kernel);
    let peakQueued = 0;
    let peakRss = 0;
    let closedAt = 0;
    await waitFor(
      () => {
        const { connections, bytes } = sendQueued(port, ATTACKER);
        peakQueued = Math.max(peakQueued, bytes);
        peakRss = Math.max(peakRss, residentBytes(watched.camplex.pid) - rssBefore);
        if (connections === 0) closedAt = Date.now();
        return connections === 0;
      },
      {
        timeoutMs: (SLOW_VIEWER_SECONDS + 30) * 1000,
        intervalMs: 200,
        what: 'the slow-viewer close',
      },
    );
    t.diagnostic(
      `peak kernel send queue ${(peakQueued / MIB).toFixed(1)} MiB, camplex RSS +${(peakRss / MIB).toFixed(1)} MiB; ` +
        `bound ${CAP} x (${MAX_BUFFERED / MIB} + ${MAX_FRAME / MIB} + ${kernel / MIB}) MiB = ${(bound / MIB).toFixed(0)} MiB; ` +
        `all closed ${((closedAt - since) / 1000).toFixed(1)} s after the first`,
    );
    assert.ok(
      peakQueued <= CAP * kernel,
      `kernel send queues ${peakQueued} B over ${CAP} x ${kernel}`,
    );
    assert.ok(peakQueued + peakRss <= bound, `${peakQueued + peakRss} B pinned, over ${bound}`);
    assert.ok(
      peakQueued > CAP * 256 * 1024,
      'the queues really filled (else this measures nothing)',
    );
    await waitForEntry(watched.camplex, mark, {
      limit: 'slow-viewer',
      msg: /MJPEG viewer too slow/,
    });
    await waitForEntry(watched.camplex, mark, {
      limit: 'slow-viewer',
      msg: /viewer drained nothing/,
    });
    for (const attempt of attempts) attempt.socket.destroy();
    await assertStillServing(watched, since, mark, t);
  });
});
