import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FakeClock } from '../../support/fake-clock.js';
import { type FakeProcess, fakeLauncher } from '../../support/fake-ffmpeg.js';
import { Fmp4Stream } from '../../support/fmp4-stream.js';
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
  /** Feeds the next `count` access units to the running source of `id`, as ffmpeg's MP4. */
  let next = 0;
  const streams = new Map<string, Fmp4Stream>();
  const feed = (count: number, id = 'door') => {
    const source = processes.find((p) => p.camera === id);
    assert.ok(source, `a source for ${id}`);
    let stream = streams.get(id);
    if (!stream) {
      stream = new Fmp4Stream();
      streams.set(id, stream);
    }
    for (let i = 0; i < count; i++) {
      const index = next++ % UNITS.length;
      source.handlers.onStdout(
        Buffer.from(stream.unit(UNITS[index] ?? new Uint8Array(0), index % 10 === 0)),
      );
    }
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
    feed(11); // fragments carry lengths: each unit is whole as it comes
    assert.equal(processes.length, 1, 'the source only');
    assert.equal(viewer.frames.length, 11);
    assert.ok(viewer.frames.every((frame) => frame.codec === 'h264'));
    assert.deepEqual(
      viewer.frames.map((frame) => frame.key),
      viewer.frames.map((_, i) => i % 10 === 0),
    );
  });

  it('starts a viewer at the key unit itself, not the cache’s copy, when it is all there is', () => {
    const { hub, feed } = setup();
    const first = new RecordingViewer();
    hub.subscribe(first, ['door'], ['h264']);
    feed(1); // the key unit alone
    const late = new RecordingViewer();
    hub.subscribe(late, ['door'], ['h264']);
    // The copy's bytes are written over at the next key unit; a viewer may hold what it is
    // given (a busy socket's slot), so it gets the frame the camera handed out.
    assert.equal(late.frames[0], first.frames[0]);
    assert.notEqual(late.frames[0], hub.camera('door')?.sinceKey[0]);
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
    feed(14); // units 0-13: the last key unit is 10
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

  it('sends a viewer that names the camera’s sound its sound frames too, from the live edge on', () => {
    const { hub, processes, clock } = setup();
    const listening = new RecordingViewer();
    const silent = new RecordingViewer();
    hub.subscribe(listening, ['door'], ['h264', 'aac']);
    hub.subscribe(silent, ['door'], ['h264', 'opus']);
    const source = processes[0];
    assert.ok(source);
    const stream = new Fmp4Stream({ audio: { rate: 48000, channels: 1 } });
    // As a camera sends them: a picture every 66.7 ms, a sound frame every 21.3 ms.
    const play = (afterMs: number, bytes: Uint8Array) => {
      clock.advance(afterMs);
      source.handlers.onStdout(Buffer.from(bytes));
    };
    const hear = (afterMs: number, bytes: Uint8Array) => {
      clock.advance(afterMs);
      source.handlers.onSound?.(Buffer.from(bytes));
    };
    play(0, stream.unit(UNITS[0] as Uint8Array, true));
    hear(1, stream.sound(new Uint8Array([0x21, 0x10, 0x04])));
    hear(21, stream.sound(new Uint8Array([0x21, 0x10, 0x05])));
    play(45, stream.unit(UNITS[1] as Uint8Array, false));
    assert.deepEqual(
      listening.frames.map((frame) => frame.codec),
      ['h264', 'aac', 'aac', 'h264'],
    );
    assert.deepEqual(
      silent.frames.map((frame) => frame.codec),
      ['h264', 'h264'],
      'it decodes Opus, not AAC',
    );
    // The sound keeps its place against the pictures (the camera's times, not arrival times).
    const [first, sound, next, second] = listening.frames;
    assert.equal(first?.pts, sound?.pts);
    assert.equal(Math.round((next?.pts ?? 0) - (sound?.pts ?? 0)), Math.round(1024 / 0.048));
    assert.equal(Math.round((second?.pts ?? 0) - (first?.pts ?? 0)), Math.round(6000 / 0.09));
    const late = new RecordingViewer();
    hub.subscribe(late, ['door'], ['h264', 'aac']);
    assert.ok(
      (late.bursts[0] ?? []).every((frame) => frame.codec === 'h264'),
      'no cached sound',
    );
    assert.equal(hub.camera('door')?.info().audio?.codec, 'aac');
  });
});
