/**
 * Plays one camera's H.264 through Media Source Extensions, for pages where WebCodecs is not
 * there (plain-http LAN pages are not secure contexts; MSE does not need one). The access units
 * become fragmented MP4 (fmp4.ts) appended to a SourceBuffer in `sequence` mode behind a muted
 * inline <video>, which is kept at the live edge: it jumps to the newest picture when more than
 * LIVE_LAG_S behind (a hidden tab, a slow append), and what was played is trimmed. It starts at
 * a key unit, drops what waits for the SourceBuffer when that backs up (resuming at the next
 * key unit), and rebuilds the MediaSource after an error; repeated errors send the tile to JPEG.
 *
 * Where the browser has ManagedMediaSource (Safari; on iPhone it is the only Media Source),
 * its rules hold: the <video> has remote playback disabled (else nothing opens), the source is
 * given as `srcObject`, appends stop on `endstreaming` (the browser asks for no more media
 * now) and start again at the next key unit on `startstreaming`, and playback never changes
 * `playbackRate` (Safari re-buffers on every change): it catches up by jumping only.
 */
import type { VideoUnit } from '../protocol/wire.js';
import { Fmp4Muxer, mimeOf } from './fmp4.js';

/** More than this behind the newest picture and playback jumps to it. */
const LIVE_LAG_S = 0.5;
/** Where a jump lands, before the end of what is buffered (room for the next picture). */
const LIVE_EDGE_S = 0.1;
/** Behind by more than this under ManagedMediaSource, playback jumps (it never speeds up). */
const MANAGED_LAG_S = 0.3;
/**
 * More than this behind and playback runs CATCH_UP_RATE times faster until back within
 * LIVE_EDGE_S: a player starts, and drifts, a few pictures behind, which a jump would not fix
 * without a visible skip.
 */
const CATCH_UP_S = 0.2;
const CATCH_UP_RATE = 1.25;
/** Played media kept behind the playhead; older is removed. */
const KEEP_BEHIND_S = 3;
/** Segments waiting for the SourceBuffer before the wait is dropped and the next key awaited. */
const MAX_QUEUED = 30;
/** This many errors within ERROR_WINDOW_MS and the stream goes to JPEG. */
const MAX_ERRORS = 3;
const ERROR_WINDOW_MS = 60_000;

interface MediaSourceClass {
  new (): MediaSource;
  isTypeSupported(type: string): boolean;
}

/** The MediaSource this browser has: ManagedMediaSource (iPhone Safari has only that) or MediaSource. */
export function mediaSourceClass(): MediaSourceClass | undefined {
  const scope = globalThis as unknown as {
    ManagedMediaSource?: MediaSourceClass;
    MediaSource?: MediaSourceClass;
  };
  return scope.ManagedMediaSource ?? scope.MediaSource;
}

/** Whether this browser's Media Source is ManagedMediaSource (and its rules hold). */
export function isManaged(): boolean {
  const scope = globalThis as { ManagedMediaSource?: unknown };
  return scope.ManagedMediaSource !== undefined && mediaSourceClass() === scope.ManagedMediaSource;
}

/** Whether MSE plays exactly `codecString` here (H.264 only). */
export function mseDecodes(codecString: string): boolean {
  if (!codecString.startsWith('avc1.')) return false;
  return mediaSourceClass()?.isTypeSupported(mimeOf(codecString)) === true;
}

export class MsePlayer {
  /** The <video> the tile shows while this player plays. */
  readonly element: HTMLVideoElement;
  private source: MediaSource | undefined;
  private buffer: SourceBuffer | undefined;
  private muxer = new Fmp4Muxer();
  private codecString: string | undefined;
  /** Segments waiting for the SourceBuffer: how long each lasts, and its unit's camplex time. */
  private queue: Array<{ bytes: Uint8Array; seconds: number; timestamp?: number }> = [];
  private needKey = true;
  private errors: number[] = [];
  private objectUrl: string | undefined;
  /** Media time (s) at which each recent unit starts, and when camplex cut it (us). */
  private readonly times: Array<[mediaTime: number, timestamp: number]> = [];
  /** Where the next appended fragment starts on the media timeline (`sequence` mode). */
  private appendedEnd = 0;
  private readonly onPicture: (timestamp: number | undefined) => void;
  private readonly onFailure: (reason: string) => void;
  /** ManagedMediaSource's rules apply (see the top). */
  private readonly managed = isManaged();
  /** False between ManagedMediaSource's `endstreaming` and its next `startstreaming`. */
  private streaming = true;

  /**
   * `onPicture` is told of each picture shown, with the camplex time of its unit when known;
   * `onFailure` when playback keeps failing.
   */
  constructor(
    onPicture: (timestamp: number | undefined) => void,
    onFailure: (reason: string) => void,
  ) {
    this.onPicture = onPicture;
    this.onFailure = onFailure;
    const video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    video.autoplay = true;
    video.disableRemotePlayback = true; // ManagedMediaSource requires it
    // e.g. "error creating media player" past the browser's cap, or a decode error
    video.addEventListener('error', () => {
      if (this.source) this.failed(video.error?.message || 'media error');
    });
    this.element = video;
    this.countPictures();
  }

  push(unit: VideoUnit, codecString: string | undefined): void {
    if (codecString === undefined || unit.codec !== 'h264') return;
    if (!this.source || this.codecString !== codecString) this.open(codecString);
    if (!this.streaming) {
      this.needKey = true; // the browser wants no media now: resume at a key unit
      return;
    }
    if (!unit.key && this.needKey) return;
    if (unit.key && this.needKey) {
      this.needKey = false;
      this.queue = [];
    }
    const segments = this.muxer.push(unit);
    const seconds = this.muxer.lastFragmentSeconds;
    segments.forEach((bytes, i) => {
      const last = i === segments.length - 1 && seconds > 0;
      this.queue.push(last ? { bytes, seconds, timestamp: unit.timestamp } : { bytes, seconds: 0 });
    });
    if (this.queue.length > MAX_QUEUED) {
      // The SourceBuffer is not keeping up: drop what waits and start again at a key unit.
      this.queue = [];
      this.needKey = true;
      this.muxer = new Fmp4Muxer(); // the next key unit brings its init segment again
      return;
    }
    this.appendNext();
  }

  close(): void {
    this.queue = [];
    this.buffer = undefined;
    if (this.source?.readyState === 'open') {
      try {
        this.source.endOfStream();
      } catch {
        // already ending
      }
    }
    this.source = undefined;
    this.element.removeAttribute('src');
    this.element.srcObject = null;
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = undefined;
    this.element.load();
  }

  private open(codecString: string): void {
    this.close();
    const Source = mediaSourceClass();
    if (!Source) return;
    this.codecString = codecString;
    this.needKey = true;
    this.muxer = new Fmp4Muxer();
    this.times.length = 0;
    this.appendedEnd = 0;
    const source = new Source();
    this.source = source;
    this.streaming = true;
    if (this.managed) {
      source.addEventListener('startstreaming', () => {
        if (this.source !== source) return;
        this.streaming = true;
        this.element.play().catch(() => {});
      });
      source.addEventListener('endstreaming', () => {
        if (this.source !== source) return;
        this.streaming = false;
        this.queue = [];
      });
    }
    source.addEventListener(
      'sourceopen',
      () => {
        if (this.source !== source) return;
        try {
          const buffer = source.addSourceBuffer(mimeOf(codecString));
          buffer.mode = 'sequence';
          buffer.addEventListener('updateend', () => this.afterAppend(buffer));
          buffer.addEventListener('error', () => this.failed('SourceBuffer error'));
          this.buffer = buffer;
          this.appendNext();
        } catch (error) {
          this.failed((error as Error).message);
        }
      },
      { once: true },
    );
    if (this.managed) {
      this.element.srcObject = source as unknown as MediaProvider;
    } else {
      this.objectUrl = URL.createObjectURL(source);
      this.element.src = this.objectUrl;
    }
    this.element.play().catch(() => {}); // muted autoplay; a refusal only delays the first picture
  }

  private appendNext(): void {
    const buffer = this.buffer;
    if (!buffer || buffer.updating) return;
    const segment = this.queue.shift();
    if (!segment) return;
    try {
      buffer.appendBuffer(segment.bytes as Uint8Array<ArrayBuffer>);
      if (segment.timestamp !== undefined) {
        this.times.push([this.appendedEnd, segment.timestamp]);
        if (this.times.length > 300) this.times.splice(0, 100);
      }
      this.appendedEnd += segment.seconds;
    } catch (error) {
      this.failed((error as Error).name);
    }
  }

  /** After each append: keep to the live edge, trim what was played, append what waits. */
  private afterAppend(buffer: SourceBuffer): void {
    if (buffer !== this.buffer) return;
    const video = this.element;
    const ranges = buffer.buffered;
    if (ranges.length > 0) {
      const end = ranges.end(ranges.length - 1);
      const behind = end - video.currentTime;
      if (this.managed) {
        if (behind > MANAGED_LAG_S) video.currentTime = Math.max(0, end - LIVE_EDGE_S);
      } else {
        if (behind > LIVE_LAG_S) video.currentTime = Math.max(0, end - LIVE_EDGE_S);
        if (behind > CATCH_UP_S && behind <= LIVE_LAG_S) video.playbackRate = CATCH_UP_RATE;
        else if (behind <= LIVE_EDGE_S) video.playbackRate = 1;
      }
      if (video.paused) video.play().catch(() => {});
      const start = ranges.start(0);
      if (this.queue.length === 0 && video.currentTime - start > 2 * KEEP_BEHIND_S) {
        buffer.remove(start, video.currentTime - KEEP_BEHIND_S);
        return; // the removal ends with another updateend
      }
    }
    this.appendNext();
  }

  /** Counts shown pictures with requestVideoFrameCallback, and finds their camplex time. */
  private countPictures(): void {
    const video = this.element;
    const onFrame = (_now: number, metadata: VideoFrameCallbackMetadata) => {
      this.onPicture(this.timestampAt(metadata.mediaTime));
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  /** The camplex time of the unit shown at `mediaTime` (the last one starting at or before it). */
  private timestampAt(mediaTime: number): number | undefined {
    for (let i = this.times.length - 1; i >= 0; i--) {
      const [start, timestamp] = this.times[i] as [number, number];
      if (start <= mediaTime + 0.001) return timestamp;
    }
    return undefined;
  }

  /** A playback error: start again at the next key unit; give up after repeated ones. */
  private failed(reason: string): void {
    console.warn(`camplex: MSE playback error (${reason}), waiting for the next key frame`);
    const codecString = this.codecString;
    this.close();
    this.source = undefined;
    if (codecString) this.codecString = undefined; // reopened by the next unit
    const now = Date.now();
    this.errors = [...this.errors.filter((at) => now - at < ERROR_WINDOW_MS), now];
    if (this.errors.length >= MAX_ERRORS) {
      this.errors = [];
      this.onFailure(`MSE: ${reason}`);
    }
  }
}
