/**
 * Congestion control with real sockets: a viewer that stops reading gets frames dropped for it
 * (latest wins, counted), catches up to live frames of every camera when it reads again, and
 * never slows the viewer beside it. Sequence numbers from the extended layout show all of it.
 * A viewer that acknowledges frames is never more than `stream.maxUnackedBytes` behind: after
 * a pause it reads at most that much old video before live frames.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { decodeExtendedFrame, SUBPROTOCOL_EXTENDED } from '../../src/protocol/wire.js';
import { type CamplexProcess, startCamplexProcess } from '../../support/camplex.js';
import { waitFor } from '../../support/processes.js';

const CAMERAS = ['big-1', 'big-2'];

/**
 * A viewer on the extended layout that remembers the sequence numbers it received, and with
 * `acks` acknowledges every frame as the browser does (also remembering size and send time).
 */
function extendedViewer(url: string, acks = false) {
  const ws = new WebSocket(url, [SUBPROTOCOL_EXTENDED]);
  const seqs = new Map<string, number[]>(CAMERAS.map((id) => [id, []]));
  const received: Array<{ camera: string; seq: number; bytes: number }> = [];
  let receivedBytes = 0;
  ws.on('message', (data: Buffer, isBinary) => {
    if (!isBinary) {
      if (JSON.parse(String(data)).type === 'hello') {
        if (acks) ws.send(JSON.stringify({ cmd: 'ack', bytes: 0 }));
        ws.send(JSON.stringify({ cmd: 'subscribe', cameras: CAMERAS }));
      }
      return;
    }
    const frame = decodeExtendedFrame(data);
    seqs.get(frame.camera)?.push(frame.seq);
    if (!acks) return;
    received.push({ camera: frame.camera, seq: frame.seq, bytes: data.length });
    receivedBytes += data.length;
    ws.send(JSON.stringify({ cmd: 'ack', bytes: receivedBytes }));
  });
  const last = (id: string) => seqs.get(id)?.at(-1) ?? 0;
  const count = (id: string) => seqs.get(id)?.length ?? 0;
  return { ws, seqs, last, count, received };
}

describe('congestion control with a viewer that stops reading', () => {
  const MAX_UNACKED = 65_536;
  let camplex: CamplexProcess;

  before(async () => {
    // Large frames and the smallest socket budget, so that a paused reader outgrows the
    // kernel's socket buffers (several MB on loopback) within seconds.
    camplex = await startCamplexProcess({
      config: [
        'stream:',
        '  maxBufferedBytes: 16384',
        `  maxUnackedBytes: ${MAX_UNACKED}`,
        'cameras:',
        '  big-1: { url: "demo:1", width: 1280, fps: 15, quality: 2 }',
        '  big-2: { url: "demo:2", width: 1280, fps: 15, quality: 2 }',
      ].join('\n'),
    });
  });

  after(async () => {
    await camplex?.stop();
  });

  it('drops frames for it, keeps its neighbour at full rate, and catches it up to live', async () => {
    const steady = extendedViewer(camplex.wsUrl);
    const paused = extendedViewer(camplex.wsUrl);
    try {
      await waitFor(() => CAMERAS.every((id) => steady.count(id) >= 5 && paused.count(id) >= 5), {
        timeoutMs: 20_000,
        what: 'frames at both viewers',
      });
      paused.ws.pause(); // stops reading: the kernel buffers fill, then camplex holds back
      const atPause = Object.fromEntries(CAMERAS.map((id) => [id, steady.count(id)]));
      await waitFor(() => CAMERAS.every((id) => steady.count(id) >= (atPause[id] ?? 0) + 150), {
        timeoutMs: 30_000,
        what: 'the steady viewer to get 150 more frames of each camera meanwhile',
      });
      // The neighbour lost nothing: consecutive sequence numbers throughout.
      for (const id of CAMERAS) {
        const seq = steady.seqs.get(id) ?? [];
        const gaps = seq.slice(1).filter((n, i) => n !== (seq[i] ?? 0) + 1).length;
        assert.equal(gaps, 0, `${id}: frames skipped for the steady viewer`);
      }
      const liveAtResume = Object.fromEntries(CAMERAS.map((id) => [id, steady.last(id)]));
      paused.ws.resume();
      // It catches up to frames at least as new as the live ones at resume, for every camera.
      await waitFor(() => CAMERAS.every((id) => paused.last(id) >= (liveAtResume[id] ?? 0)), {
        timeoutMs: 20_000,
        what: 'the resumed viewer to reach live frames of every camera',
      });
      for (const id of CAMERAS) {
        const seq = paused.seqs.get(id) ?? [];
        const skipped = seq
          .slice(1)
          .reduce((sum, n, i) => sum + Math.max(0, n - (seq[i] ?? 0) - 1), 0);
        assert.ok(
          skipped > 0,
          `${id}: older frames were dropped for the slow viewer (latest wins)`,
        );
        assert.ok(
          seq.every((n, i) => i === 0 || n > (seq[i - 1] ?? 0)),
          `${id}: frames in order`,
        );
      }
      const metrics = await (await fetch(`${camplex.url}metrics`)).text();
      assert.match(metrics, /^camplex_frames_dropped_total\{camera="big-[12]"\} [1-9]\d*$/m);
      // Its own counts, per camera, in the line logged when it goes.
      const mark = camplex.lines.length;
      paused.ws.close();
      const line = await waitFor(
        () =>
          camplex.lines
            .slice(mark)
            .map((text) => JSON.parse(text) as Record<string, unknown>)
            .find((entry) => entry.msg === 'viewer disconnected' && entry.code === 1005),
        { timeoutMs: 10_000, what: "the paused viewer's disconnect line" },
      );
      const cameras = line.cameras as Record<string, { sent: number; dropped: number }>;
      for (const id of CAMERAS) {
        assert.ok((cameras[id]?.dropped ?? 0) > 0, `${id}: drops counted for this viewer`);
        assert.ok((cameras[id]?.sent ?? 0) >= paused.count(id), `${id}: sent >= received`);
      }
    } finally {
      steady.ws.terminate();
      paused.ws.terminate();
    }
  });

  it('reads at most maxUnackedBytes (+ one frame) of old video after a pause', async () => {
    const steady = extendedViewer(camplex.wsUrl);
    const acking = extendedViewer(camplex.wsUrl, true);
    try {
      await waitFor(() => CAMERAS.every((id) => acking.count(id) >= 5), {
        timeoutMs: 20_000,
        what: 'frames at the acking viewer',
      });
      acking.ws.pause();
      const atPause = Object.fromEntries(CAMERAS.map((id) => [id, steady.count(id)]));
      // Two seconds of video at 2 x 15 fps: megabytes that a non-acking viewer would queue.
      await waitFor(() => CAMERAS.every((id) => steady.count(id) >= (atPause[id] ?? 0) + 30), {
        timeoutMs: 30_000,
        what: 'the steady viewer to get 30 more frames of each camera meanwhile',
      });
      const before = acking.received.length;
      const liveAtResume = Object.fromEntries(CAMERAS.map((id) => [id, steady.last(id)]));
      acking.ws.resume();
      await waitFor(() => CAMERAS.every((id) => acking.last(id) >= (liveAtResume[id] ?? 0)), {
        timeoutMs: 20_000,
        what: 'the resumed viewer to reach live frames of every camera',
      });
      const afterResume = acking.received.slice(before);
      // Old video: frames already superseded when it resumed (a waiting frame that is still
      // the newest of its camera is not old).
      const stale = afterResume.filter((frame) => frame.seq < (liveAtResume[frame.camera] ?? 0));
      const staleBytes = stale.reduce((sum, frame) => sum + frame.bytes, 0);
      const largest = Math.max(...acking.received.map((frame) => frame.bytes));
      assert.ok(
        staleBytes < MAX_UNACKED + largest,
        `${staleBytes} bytes of superseded frames after the resume, in ${stale.length} frames ` +
          `(bound ${MAX_UNACKED} + one frame of at most ${largest})`,
      );
    } finally {
      steady.ws.terminate();
      acking.ws.terminate();
    }
  });
});
