/**
 * The hub: the camera streams, reference-counted subscriptions and the fan-out of frames and
 * states to viewers. A stream's source (one ffmpeg, one connection to the camera) runs while it
 * has a viewer, plus a grace period after the last one leaves, so a page refresh does not
 * restart it. A viewer names the codecs it decodes; one that does not decode what the camera
 * sends gets JPEG from the stream's transcoder, which runs only while such a viewer exists
 * (plus the grace period) and is fed the copied stream, never a second connection. A new viewer
 * gets the frames since the last key frame, so it paints at once. A viewer that names the
 * camera's sound codec also gets its sound frames, from the live edge on. Delivery totals per
 * stream are kept here, and every kind of viewer adds to them through latest-wins.ts.
 */
import type { Camera, CameraInfo, CameraListener, Codec, Frame } from '../camera/camera.js';
import { cameraOfStream, SUBSTREAM_SUFFIX } from '../common/camera-id.js';
import type { Clock } from '../common/clock.js';
import type { Log } from '../common/log.js';
import type { DeliveryCounts } from './latest-wins.js';

/** Anything that watches cameras: a WebSocket viewer, an MJPEG response, a snapshot's wait. */
export interface Viewer {
  /** A frame of a stream this viewer subscribed to. Must not throw; may drop. */
  sendFrame(frame: Frame, camera: Camera): void;
  /**
   * A new subscription's start: the frames since the last key frame, to be decoded in order
   * (all but the last only to reach the current picture). Viewers without it get the last.
   */
  sendBurst?(frames: readonly Frame[], camera: Camera): void;
  /** A state change of any camera. */
  sendState(info: CameraInfo): void;
  /** The camera list changed (a config reload): here it is, whole. */
  sendCameras?(cameras: CameraInfo[]): void;
  /** A stream this viewer watched is gone (a reload removed it): it will get nothing more. */
  streamGone?(id: string): void;
}

export interface HubOptions {
  /** Builds every stream's source (`<id>`, and `<id>@sub` for a sub-stream), given the hub as listener. */
  createCameras: (listener: CameraListener) => Camera[];
  /** Builds the JPEG transcoder of a video `source`, fed by it. */
  createTranscoder?: (source: Camera, listener: CameraListener) => Camera;
  graceMs: number;
  clock: Clock;
  log: Log;
  /**
   * What viewers are told of a stream, given what this process knows of it (in a cluster:
   * the state and owner of a camera another node runs). Default: as it is.
   */
  describe?: (info: CameraInfo) => CameraInfo;
  /** Told of every state change a viewer is told of (a cluster passes it on). */
  onState?: (info: CameraInfo) => void;
}

export interface SubscribeResult {
  accepted: string[];
  unknown: string[];
}

/** A viewer that names no codecs decodes JPEG only. */
const JPEG_ONLY: readonly Codec[] = ['jpeg'];

interface Stream {
  readonly source: Camera;
  transcoder: Camera | undefined;
  /** Every viewer of the stream and the codecs it decodes. */
  readonly viewers: Map<Viewer, readonly Codec[]>;
  /** Viewers fed the source's own frames; the rest get JPEG from the transcoder. */
  readonly native: Set<Viewer>;
  readonly jpeg: Set<Viewer>;
  /** Viewers that take the camera's sound too (whichever pictures they get). */
  readonly audio: Set<Viewer>;
  stopTimer: unknown;
  transcoderStopTimer: unknown;
  readonly delivered: DeliveryCounts;
  /**
   * A changed stream's old source until it has stopped: the new one starts after it, never
   * beside it (a camera may allow one session at a time).
   */
  replacing?: Promise<void>;
}

export class Hub implements CameraListener {
  private readonly streams = new Map<string, Stream>();
  /** Which stream a source or transcoder feeds, and as which. */
  private readonly feeds = new Map<Camera, { stream: Stream; jpeg: boolean }>();
  private readonly viewers = new Set<Viewer>();
  private readonly options: HubOptions;
  private closed = false;

  constructor(options: HubOptions) {
    this.options = options;
    for (const source of options.createCameras(this)) this.addStream(source);
  }

  /**
   * A reloaded config's streams, in order: each is the source already running (unchanged), a
   * new source for a stream that changed (its viewers move to it and it restarts), or a new
   * stream. Streams not listed stop and their viewers lose them. Every viewer then gets the new
   * camera list. Resolves once the old sources have stopped.
   */
  async reconfigure(sources: readonly Camera[]): Promise<void> {
    const next = new Map(sources.map((source) => [source.id, source]));
    const stopping: Array<Promise<void>> = [];
    for (const [id, stream] of [...this.streams]) {
      const source = next.get(id);
      if (source === stream.source) continue;
      const stopped = this.dropStream(stream);
      stopping.push(stopped);
      if (!source) {
        for (const viewer of stream.viewers.keys()) viewer.streamGone?.(id);
        continue;
      }
      // Changed: the same viewers, on the new source, once the old one has stopped.
      const fresh = this.addStream(source);
      for (const [viewer, formats] of stream.viewers) fresh.viewers.set(viewer, formats);
      fresh.replacing = stopped.then(() => {
        fresh.replacing = undefined;
        if (fresh.viewers.size > 0 && this.streams.get(id) === fresh) this.keepRunning(fresh);
      });
    }
    for (const source of sources) if (!this.streams.has(source.id)) this.addStream(source);
    // Config order.
    const ordered = sources.flatMap((source) => {
      const stream = this.streams.get(source.id);
      return stream ? ([[source.id, stream]] as const) : [];
    });
    this.streams.clear();
    for (const [id, stream] of ordered) this.streams.set(id, stream);
    const infos = this.infos();
    for (const viewer of this.viewers) viewer.sendCameras?.(infos);
    await Promise.all(stopping);
  }

  private addStream(source: Camera): Stream {
    const stream: Stream = {
      source,
      transcoder: undefined,
      viewers: new Map(),
      native: new Set(),
      jpeg: new Set(),
      audio: new Set(),
      stopTimer: undefined,
      transcoderStopTimer: undefined,
      delivered: { sent: 0, dropped: 0 },
    };
    this.streams.set(source.id, stream);
    this.feeds.set(source, { stream, jpeg: false });
    return stream;
  }

  /** Takes a stream out: no viewer gets its frames any more; its source and transcoder stop. */
  private dropStream(stream: Stream): Promise<void> {
    this.options.clock.clearTimeout(stream.stopTimer);
    this.options.clock.clearTimeout(stream.transcoderStopTimer);
    this.streams.delete(stream.source.id);
    this.feeds.delete(stream.source);
    if (stream.transcoder) this.feeds.delete(stream.transcoder);
    const stopping = [stream.source.shutDown()];
    if (stream.transcoder) stopping.push(stream.transcoder.shutDown());
    return Promise.all(stopping).then(() => {});
  }

  /** Every stream's source, in config order. */
  cameras(): Camera[] {
    return [...this.streams.values()].map((stream) => stream.source);
  }

  /** Every camera, in config order, as viewers may see it (a sub-stream inside its camera). */
  infos(): CameraInfo[] {
    const infos: CameraInfo[] = [];
    for (const { source } of this.streams.values()) {
      if (source.id.endsWith(SUBSTREAM_SUFFIX)) continue;
      infos.push(this.infoOf(source));
    }
    return infos;
  }

  /** The source of stream `id` (`<camera>` or `<camera>@sub`). */
  camera(id: string): Camera | undefined {
    return this.streams.get(id)?.source;
  }

  /** The newest JPEG of stream `id`: its own, or its transcoder's. */
  latestJpeg(id: string): Frame | undefined {
    const stream = this.streams.get(id);
    if (!stream) return undefined;
    return stream.source.currentCodec === 'jpeg' ? stream.source.latest : stream.transcoder?.latest;
  }

  /** The JPEG transcoders running now, for /metrics. */
  transcoders(): Camera[] {
    return [...this.streams.values()].flatMap((stream) =>
      stream.transcoder?.running ? [stream.transcoder] : [],
    );
  }

  /** Frames of stream `camera` sent to viewers and dropped for them, over every viewer. */
  deliveryOf(camera: Camera): DeliveryCounts {
    return this.feeds.get(camera)?.stream.delivered ?? { sent: 0, dropped: 0 };
  }

  /** Number of viewers subscribed to stream `id`. */
  subscriberCount(id: string): number {
    return this.streams.get(id)?.viewers.size ?? 0;
  }

  /** Number of registered viewers (open WebSocket sessions). */
  get viewerCount(): number {
    return this.viewers.size;
  }

  /** Registers a viewer for state broadcasts. */
  addViewer(viewer: Viewer): void {
    this.viewers.add(viewer);
  }

  /** Forgets a viewer and drops all of its subscriptions. */
  removeViewer(viewer: Viewer): void {
    this.viewers.delete(viewer);
    this.unsubscribe(viewer, [...this.streams.keys()]);
  }

  /**
   * Subscribes `viewer` to the known streams among `ids`, taking frames in the first of
   * `formats` the stream can give (JPEG is always possible). A new subscription gets the frames
   * since the last key frame at once. Subscribing again changes the formats.
   */
  subscribe(
    viewer: Viewer,
    ids: readonly string[],
    formats: readonly Codec[] = JPEG_ONLY,
  ): SubscribeResult {
    const result: SubscribeResult = { accepted: [], unknown: [] };
    for (const id of ids) {
      const stream = this.streams.get(id);
      if (!stream) {
        result.unknown.push(id);
        continue;
      }
      result.accepted.push(id);
      const before = this.routeOf(stream, viewer);
      stream.viewers.set(viewer, formats);
      const after = this.route(stream, viewer);
      this.keepRunning(stream);
      this.updateTranscoder(stream);
      if (after !== before) this.startFrames(stream, viewer, after);
    }
    return result;
  }

  /** Unsubscribes `viewer`; a stream left without viewers stops after the grace period. */
  unsubscribe(viewer: Viewer, ids: readonly string[]): SubscribeResult {
    const result: SubscribeResult = { accepted: [], unknown: [] };
    for (const id of ids) {
      const stream = this.streams.get(id);
      if (!stream) {
        result.unknown.push(id);
        continue;
      }
      result.accepted.push(id);
      if (!stream.viewers.delete(viewer)) continue;
      stream.native.delete(viewer);
      stream.jpeg.delete(viewer);
      stream.audio.delete(viewer);
      this.updateTranscoder(stream);
      if (stream.viewers.size === 0) this.scheduleStop(stream);
    }
    return result;
  }

  onFrame(camera: Camera, frame: Frame): void {
    const feed = this.feeds.get(camera);
    if (!feed) return;
    const viewers = feed.jpeg
      ? feed.stream.jpeg
      : frame.audio
        ? feed.stream.audio
        : feed.stream.native;
    for (const viewer of viewers) viewer.sendFrame(frame, camera);
  }

  onCodec(camera: Camera): void {
    const feed = this.feeds.get(camera);
    if (feed && !feed.jpeg) this.reroute(feed.stream);
  }

  onState(camera: Camera): void {
    const feed = this.feeds.get(camera);
    if (!feed || feed.jpeg) return; // a transcoder's own states are logged, not shown
    const main = this.streams.get(cameraOfStream(camera.id))?.source ?? camera;
    const info = this.infoOf(main);
    for (const viewer of this.viewers) viewer.sendState(info);
    this.options.onState?.(info);
  }

  /** Stops every stream for good; resolves when every ffmpeg has exited. */
  async close(): Promise<void> {
    this.closed = true;
    const stopping: Array<Promise<void>> = [];
    for (const stream of this.streams.values()) {
      this.options.clock.clearTimeout(stream.stopTimer);
      this.options.clock.clearTimeout(stream.transcoderStopTimer);
      stopping.push(stream.source.shutDown());
      if (stream.transcoder) stopping.push(stream.transcoder.shutDown());
    }
    await Promise.all(stopping);
  }

  /** Tells every viewer what is known of camera `id` now (news from elsewhere: a cluster). */
  announce(id: string): void {
    const main = this.streams.get(cameraOfStream(id))?.source;
    if (!main) return;
    const info = this.infoOf(main);
    for (const viewer of this.viewers) viewer.sendState(info);
  }

  private infoOf(main: Camera): CameraInfo {
    const describe = this.options.describe ?? ((info: CameraInfo) => info);
    const info = describe(main.info());
    const sub = this.streams.get(main.id + SUBSTREAM_SUFFIX)?.source;
    return sub ? { ...info, substream: describe(sub.info()) } : info;
  }

  /** Which frames `viewer` gets of `stream` now: the source's, the transcoder's, or none yet. */
  private routeOf(stream: Stream, viewer: Viewer): 'native' | 'jpeg' | 'none' {
    if (stream.native.has(viewer)) return 'native';
    if (stream.jpeg.has(viewer)) return 'jpeg';
    return 'none';
  }

  /**
   * Files `viewer` by what it decodes and what the source sends; returns where its pictures go
   * (its sound, when it decodes the camera's, goes to it whichever way they do).
   */
  private route(stream: Stream, viewer: Viewer): 'native' | 'jpeg' | 'none' {
    const codec = stream.source.currentCodec;
    const sound = stream.source.currentAudio;
    const formats = stream.viewers.get(viewer) ?? JPEG_ONLY;
    stream.native.delete(viewer);
    stream.jpeg.delete(viewer);
    if (sound !== undefined && formats.includes(sound)) stream.audio.add(viewer);
    else stream.audio.delete(viewer);
    if (codec === undefined) return 'none'; // not started yet: no frames to route
    const native = codec === 'jpeg' || formats.includes(codec);
    (native ? stream.native : stream.jpeg).add(viewer);
    return native ? 'native' : 'jpeg';
  }

  private reroute(stream: Stream): void {
    for (const viewer of stream.viewers.keys()) {
      const before = this.routeOf(stream, viewer);
      const after = this.route(stream, viewer);
      if (after !== before) this.startFrames(stream, viewer, after);
    }
    this.updateTranscoder(stream);
  }

  /** A viewer's frames of `stream` begin: the current picture at once, when there is one. */
  private startFrames(stream: Stream, viewer: Viewer, route: 'native' | 'jpeg' | 'none'): void {
    if (route === 'none') return;
    const camera = route === 'native' ? stream.source : stream.transcoder;
    if (!camera) return;
    const frames = route === 'native' ? camera.sinceKey : camera.latest ? [camera.latest] : [];
    const last = frames.at(-1);
    if (!last) return;
    if (frames.length > 1 && viewer.sendBurst) viewer.sendBurst(frames, camera);
    // The newest picture itself, not the cache's copy: the viewer may hold it (a busy socket's
    // slot), and the copy's bytes are written over at the next key frame.
    else viewer.sendFrame(camera.latest ?? last, camera);
  }

  /** Runs the transcoder while a viewer needs JPEG of a video stream, else lets it stop. */
  private updateTranscoder(stream: Stream): void {
    const codec = stream.source.currentCodec;
    const needed = stream.jpeg.size > 0 && codec !== undefined && codec !== 'jpeg';
    if (needed && !this.closed) {
      this.options.clock.clearTimeout(stream.transcoderStopTimer);
      stream.transcoderStopTimer = undefined;
      if (!stream.transcoder && this.options.createTranscoder) {
        stream.transcoder = this.options.createTranscoder(stream.source, this);
        this.feeds.set(stream.transcoder, { stream, jpeg: true });
      }
      stream.transcoder?.start();
      return;
    }
    if (!stream.transcoder?.running || stream.transcoderStopTimer !== undefined) return;
    stream.transcoderStopTimer = this.options.clock.setTimeout(() => {
      stream.transcoderStopTimer = undefined;
      if (stream.jpeg.size > 0 && stream.source.currentCodec !== 'jpeg') return;
      this.options.log.info(
        { camera: stream.source.id },
        'no JPEG viewers left: stopping the transcoder',
      );
      void stream.transcoder?.stop();
    }, this.options.graceMs);
  }

  private keepRunning(stream: Stream): void {
    if (this.closed) return;
    if (stream.stopTimer !== undefined) {
      this.options.clock.clearTimeout(stream.stopTimer);
      stream.stopTimer = undefined;
    }
    if (stream.replacing) return; // it starts when the source it replaces has stopped
    stream.source.start();
  }

  private scheduleStop(stream: Stream): void {
    this.options.clock.clearTimeout(stream.stopTimer);
    stream.stopTimer = this.options.clock.setTimeout(() => {
      stream.stopTimer = undefined;
      if (stream.viewers.size > 0) return;
      if (stream.source.running) {
        this.options.log.info({ camera: stream.source.id }, 'no viewers left: stopping camera');
        void stream.source.stop();
      }
      void stream.transcoder?.stop();
    }, this.options.graceMs);
  }
}
