import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FakeClock } from '../../test/helpers/fake-clock.js';
import { type FakeProcess, fakeLauncher } from '../../test/helpers/fake-ffmpeg.js';
import { Camera, type CameraListener, type Frame } from '../camera/camera.js';
import { createLog } from '../common/log.js';
import type { OutputFormat } from '../ffmpeg/args.js';
import type { CameraInfo } from '../protocol/wire.js';
import { Hub, type Viewer } from './hub.js';

const GRACE_MS = 10_000;
const NEVER_MS = 24 * 3_600_000;
/** 2 s of H.264 at 10 fps, a key unit every 10 (see annexb-splitter.test.ts). */
const H264 = new Uint8Array(
  readFileSync(new URL('../../test/fixtures/h264-baseline.h264', import.meta.url)),
);

/** The fixture's access units, each from its delimiter on. */
function accessUnits(): Uint8Array[] {
  const starts: number[] = [];
  for (let i = 0; i + 4 < H264.length; i++) {
    const fourByte = H264[i] === 0 && H264[i + 1] === 0 && H264[i + 2] === 0 && H264[i + 3] === 1;
    if (fourByte && ((H264[i + 4] ?? 0) & 0x1f) === 9) starts.push(i);
  }
  return starts.map((start, i) => H264.subarray(start, starts[i + 1] ?? H264.length));
}
const UNITS = accessUnits();

class RecordingViewer implements Viewer {
  readonly frames: Frame[] = [];
  readonly bursts: Frame[][] = [];
  readonly states: CameraInfo[] = [];
  sendFrame(frame: Frame): void {
    this.frames.push(frame);
  }
  sendBurst(frames: readonly Frame[]): void {
    this.bursts.push([...frames]);
  }
  sendState(info: CameraInfo): void {
    this.states.push(info);
  }
}

function setup() {
  const clock = new FakeClock();
  const log = createLog({ level: 'silent' });
  const processes: FakeProcess[] = [];
  const camera = (id: string, output: OutputFormat, listener: CameraListener) =>
    new Camera(
      { id, name: 'Door', url: 'rtsp://door/x' },
      {
        launch: fakeLauncher(processes, id, output),
        listener,
        clock,
        log,
        boundary: 'camplexframe',
        maxFrameBytes: 1 << 20,
        random: () => 0.5,
        startTimeoutMs: NEVER_MS,
        stallMs: NEVER_MS,
      },
    );
  const hub = new Hub({
    createCameras: (listener) => [
      camera('door', 'h264', listener),
      camera('door@sub', 'h264', listener),
    ],
    createTranscoder: (source, listener) => camera(source.id, 'mpjpeg', listener),
    graceMs: GRACE_MS,
    clock,
    log,
  });
  /** Feeds the next `count` access units to the running source of `id`. */
  let next = 0;
  const feed = (count: number, id = 'door') => {
    const source = processes.find((p) => p.camera === id);
    assert.ok(source, `a source for ${id}`);
    for (let i = 0; i < count; i++)
      source.handlers.onStdout(Buffer.from(UNITS[next++ % UNITS.length] ?? []));
  };
  return { hub, clock, processes, feed };
}

const jpeg = Buffer.from([0xff, 0xd8, 1, 2, 3, 0xff, 0xd9]);
const jpegPart = Buffer.concat([
  Buffer.from(
    `--camplexframe\r\nContent-type: image/jpeg\r\nContent-length: ${jpeg.length}\r\n\r\n`,
  ),
  jpeg,
  Buffer.from('\r\n'),
]);

describe('Hub with a video camera', () => {
  it('sends a viewer that decodes H.264 the camera units, and starts no transcoder', () => {
    const { hub, processes, feed } = setup();
    const viewer = new RecordingViewer();
    hub.subscribe(viewer, ['door'], ['h264', 'jpeg']);
    feed(12); // the 12th unit's delimiter completes the 11th
    assert.equal(processes.length, 1, 'the source only');
    assert.equal(viewer.frames.length, 11);
    assert.ok(viewer.frames.every((frame) => frame.codec === 'h264'));
    assert.deepEqual(
      viewer.frames.map((frame) => frame.key),
      viewer.frames.map((_, i) => i % 10 === 0),
    );
  });

  it('runs one transcoder while a viewer needs JPEG, and stops it a grace period after', () => {
    const { hub, clock, processes, feed } = setup();
    const video = new RecordingViewer();
    const jpegOnly = new RecordingViewer();
    hub.subscribe(video, ['door'], ['h264']);
    feed(3);
    hub.subscribe(jpegOnly, ['door']);
    assert.equal(processes.length, 2, 'the source and one transcoder');
    const transcoder = processes[1];
    assert.ok(transcoder);
    transcoder.handlers.onStdout(jpegPart);
    assert.equal(jpegOnly.frames.at(-1)?.codec, 'jpeg');
    assert.ok(
      video.frames.every((frame) => frame.codec === 'h264'),
      'the video viewer gets no JPEG',
    );
    hub.unsubscribe(jpegOnly, ['door']);
    clock.advance(GRACE_MS - 1);
    assert.equal(transcoder.stopCalls, 0);
    clock.advance(1);
    assert.equal(transcoder.stopCalls, 1, 'stopped after the grace period');
    assert.equal(processes[0]?.stopCalls, 0, 'the source goes on for the video viewer');
  });

  it('starts a late joiner with the units since the last key unit', () => {
    const { hub, feed } = setup();
    hub.subscribe(new RecordingViewer(), ['door'], ['h264']);
    feed(15); // units 0-13 complete: the last key unit is 10
    const late = new RecordingViewer();
    hub.subscribe(late, ['door'], ['h264']);
    assert.equal(late.bursts.length, 1);
    const burst = late.bursts[0] ?? [];
    assert.equal(burst.length, 4);
    assert.equal(burst[0]?.key, true);
    assert.ok(burst.slice(1).every((frame) => !frame.key));
  });

  it('shows a sub-stream inside its camera, subscribed to by its own name', () => {
    const { hub, processes } = setup();
    assert.deepEqual(
      hub.infos().map((info) => [info.id, info.substream?.id]),
      [['door', 'door@sub']],
    );
    const viewer = new RecordingViewer();
    assert.deepEqual(hub.subscribe(viewer, ['door@sub'], ['h264']).accepted, ['door@sub']);
    assert.deepEqual(
      processes.map((p) => p.camera),
      ['door@sub'],
      'only the sub-stream connects',
    );
  });
});
