/**
 * Plays one camera's H.264 (and, while unmuted, its AAC sound) through Media Source Extensions,
 * for pages where WebCodecs is not there (plain-http LAN pages are not secure contexts; MSE does
 * not need one). The access units become fragmented MP4 (fmp4.ts) at the camera's own decode
 * and presentation times, appended in `segments` mode behind a muted inline <video>, so
 * B-frames play in order and sound stays in step with pictures. It is kept at the live edge by
 * jumping only (more than LIVE_LAG_S behind: to the newest picture; a late joiner's catch-up
 * burst is appended whole, and the jump decodes it up to the current picture); playing faster to
 * catch up would move the sound and makes Safari re-buffer. What was played is trimmed. It starts
 * at a key unit, drops what waits for the SourceBuffer when that backs up (resuming at the next
 * key unit), and rebuilds the MediaSource after an error; repeated errors send the tile to JPEG.
 *
 * The units since the last key unit are kept, so the MediaSource can be built again at once,
 * without waiting a GOP: when sound is turned on or off (a second SourceBuffer is only added
 * while unmuted: with one, what plays is what both buffers hold, so a pause in the sound would
 * freeze the pictures), and when the camera's sound stops while its pictures go on.
 *
 * Where the browser has ManagedMediaSource (Safari; on iPhone it is the only Media Source),
 * its rules hold: the <video> has remote playback disabled (else nothing opens), the source is
 * given as `srcObject`, appends stop on `endstreaming` (the browser asks for no more media
 * now) and start again at the next key unit on `startstreaming`, and playback never changes
 * `playbackRate`.
 */
import type { AudioInfo, AudioUnit, VideoUnit } from '../protocol/wire.js';
import { AacMuxer, Fmp4Muxer, mimeOf } from './fmp4.js';

/** More than this behind the newest picture and playback jumps to it. */
const LIVE_LAG_S = 0.5;
/** Where a jump lands, before the end of what is buffered (room for the next picture). */
const LIVE_EDGE_S = 0.1;
/** Behind by more than this under ManagedMediaSource, playback jumps. */
const MANAGED_LAG_S = 0.3;
/** Played media kept behind the playhead; older is removed. */
const KEEP_BEHIND_S = 3;
/** Live units waiting for the SourceBuffer before the wait is dropped and the next key awaited. */
const MAX_QUEUED = 30;
/** Units kept since the last key unit, to build the MediaSource again (a bound, in bytes). */
const MAX_KEPT_BYTES = 16 * 1024 * 1024;
/** Sound this far behind the pictures means it stopped: it is taken out so they go on. */
const SOUND_GAP_S = 1;
/** This many errors within ERROR_WINDOW_MS, no picture between them, and the stream goes to JPEG. */
const MAX_ERRORS = 4;
const ERROR_WINDOW_MS = 60_000;
/**
 * A repeated error waits this long (doubling each time) before the player is built again: a
 * browser whose media pipeline failed under load gets time to recover, and a browser that cannot
 * play the stream at all still reaches JPEG within about two seconds.
 */
const RETRY_BASE_MS = 500;

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

/** Whether MSE plays AAC here (its sound goes through the player's own MediaSource). */
export function msePlaysAac(): boolean {
  return mediaSourceClass()?.isTypeSupported('audio/mp4; codecs="mp4a.40.2"') === true;
}

/** One SourceBuffer (once the source is open) and what waits for it. */
interface Lane {
  buffer: SourceBuffer | undefined;
  queue: Uint8Array[];
}

export class MsePlayer {
  /** The <video> the tile shows while this player plays. */
  readonly element: HTMLVideoElement;
  private source: MediaSource | undefined;
  private video: Lane | undefined;
  private audio: Lane | undefined;
  private muxer: Fmp4Muxer | undefined;
  private aac: AacMuxer | undefined;
  private codecString: string | undefined;
  /** Units since the last key unit (and their bytes), to build the source again. */
  private kept: VideoUnit[] = [];
  private keptBytes = 0;
  /** Live units queued for the video SourceBuffer. */
  private liveQueued = 0;
  private needKey = true;
  private errors: number[] = [];
  /** Set while a repeated error waits to build the player again (no key unit opens it then). */
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** A picture was shown since the last error (an error then is passing, not repeated). */
  private shownSinceError = false;
  private objectUrl: string | undefined;
  private readonly onPicture: (timestamp: number | undefined) => void;
  private readonly onFailure: (reason: string) => void;
  /** ManagedMediaSource's rules apply (see the top). */
  private readonly managed = isManaged();
  /** False between ManagedMediaSource's `endstreaming` and its next `startstreaming`. */
  private streaming = true;
  /** The sound wanted through this player (AAC while unmuted), and whether it flows now. */
  private sound: AudioInfo | undefined;
  private soundStopped = false;
  /** The newest picture's presentation time (us) and the newest sound frame's. */
  private newestPicture = 0;
  private newestSound = 0;
  /** Sound frames appended, with their presentation times, until they are played. */
  private soundPending: number[] = [];
  /** Sound frames whose time the playhead passed (played) since the player was made. */
  soundFramesPlayed = 0;

  /**
   * `onPicture` is told of each picture shown, with the presentation time of its unit when
   * known; `onFailure` when playback keeps failing.
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
    // (`video.error` is null again once a new source is given: an error of the old one is stale.)
    video.addEventListener('error', () => {
      if (this.source && video.error) this.failed(video.error.message || 'media error');
    });
    this.element = video;
    this.countPictures();
  }

  /** The presentation time (us) of what the <video> shows now, when it plays. */
  get playhead(): number | undefined {
    const origin = this.muxer?.origin;
    if (origin === undefined || this.element.readyState < 2) return undefined;
    return origin + this.element.currentTime * 1_000_000;
  }

  push(unit: VideoUnit, codecString: string | undefined): void {
    if (codecString === undefined || unit.codec !== 'h264') return;
    if (unit.key) {
      this.kept = [];
      this.keptBytes = 0;
    }
    if (this.kept.length > 0 || unit.key) {
      this.kept.push(unit);
      this.keptBytes += unit.data.length;
      if (this.keptBytes > MAX_KEPT_BYTES) {
        this.kept = [];
        this.keptBytes = 0;
      }
    }
    this.newestPicture = unit.timestamp;
    if (!this.source || this.codecString !== codecString) {
      if (!unit.key || this.retryTimer !== undefined) return; // the next key unit opens it
      this.open(codecString);
    }
    this.append(unit);
    this.checkSound();
  }

  /**
   * Plays `info`'s sound through this player (AAC only: the caller plays other codecs itself),
   * or none: the MediaSource is built again from the units kept, with or without its sound.
   */
  setSound(info: AudioInfo | undefined): void {
    const wanted = info?.codec === 'aac' ? info : undefined;
    if (wanted?.config === this.sound?.config && !!wanted === !!this.sound) return;
    this.sound = wanted;
    this.soundStopped = false;
    this.rebuild();
  }

  /** A sound frame of the camera (AAC), while its sound plays through this player. */
  pushAudio(unit: AudioUnit): void {
    if (!this.sound || unit.codec !== 'aac') return;
    this.newestSound = unit.timestamp;
    if (this.soundStopped) {
      // It is back: build the source again with it.
      this.soundStopped = false;
      this.rebuild();
      return;
    }
    const lane = this.audio;
    if (!lane || !this.aac) return;
    lane.queue.push(this.aac.fragment(unit.data, unit.timestamp));
    this.soundPending.push(unit.timestamp);
    if (this.soundPending.length > 500) this.soundPending.splice(0, 100);
    this.flush(lane);
  }

  close(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.video = undefined;
    this.audio = undefined;
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

  /** Builds the MediaSource again from the units kept since the last key unit. */
  private rebuild(): void {
    const codecString = this.codecString;
    const kept = this.kept;
    if (!codecString || kept.length === 0) return;
    this.open(codecString);
    for (const unit of kept) this.append(unit);
  }

  private open(codecString: string): void {
    this.close();
    const Source = mediaSourceClass();
    const first = this.kept[0];
    if (!Source || !first) return;
    this.codecString = codecString;
    this.needKey = true;
    this.liveQueued = 0;
    // The timeline starts a little before the first unit, so no time is ever negative.
    const origin = first.decodeTimestamp;
    this.muxer = new Fmp4Muxer(origin);
    const sound = this.sound && !this.soundStopped ? this.sound : undefined;
    this.aac = sound ? new AacMuxer(origin, sound.rate, sound.channels, sound.config) : undefined;
    this.soundPending = [];
    const source = new Source();
    this.source = source;
    this.streaming = true;
    // Until the source opens, segments wait in the lanes' queues.
    const video: Lane = { buffer: undefined, queue: [] };
    const audio: Lane | undefined = this.aac
      ? { buffer: undefined, queue: [this.aac.initSegment()] }
      : undefined;
    this.video = video;
    this.audio = audio;
    if (this.managed) {
      source.addEventListener('startstreaming', () => {
        if (this.source !== source) return;
        this.streaming = true;
        this.element.play().catch(() => {});
      });
      source.addEventListener('endstreaming', () => {
        if (this.source !== source) return;
        this.streaming = false;
      });
    }
    source.addEventListener(
      'sourceopen',
      () => {
        if (this.source !== source) return;
        try {
          this.attach(source, video, mimeOf(codecString));
          if (audio && this.aac) this.attach(source, audio, this.aac.mime);
          this.flush(video);
          if (audio) this.flush(audio);
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
    this.element.muted = !sound;
    this.element.play().catch(() => {}); // a refusal only delays the first picture
  }

  /** Gives `lane` its SourceBuffer of `mime`. */
  private attach(source: MediaSource, lane: Lane, mime: string): void {
    const buffer = source.addSourceBuffer(mime);
    lane.buffer = buffer;
    buffer.addEventListener('updateend', () => this.afterAppend(lane));
    buffer.addEventListener('error', () => this.failed('SourceBuffer error'));
  }

  private append(unit: VideoUnit): void {
    const lane = this.video;
    const muxer = this.muxer;
    if (!lane || !muxer) return;
    if (!this.streaming) {
      this.needKey = true; // the browser wants no media now: resume at a key unit
      return;
    }
    if (!unit.key && this.needKey) return;
    if (unit.key) this.needKey = false;
    if (unit.decodeTimestamp < muxer.origin) return; // from before this timeline: stale
    lane.queue.push(
      ...muxer.push({
        data: unit.data,
        key: unit.key,
        pts: unit.timestamp,
        dts: unit.decodeTimestamp,
      }),
    );
    if (!unit.decodeOnly && ++this.liveQueued > MAX_QUEUED) {
      // The SourceBuffer is not keeping up: drop what waits and start again at a key unit.
      lane.queue = [];
      this.liveQueued = 0;
      this.needKey = true;
      return;
    }
    this.flush(lane);
  }

  /**
   * Appends the next segment `lane` holds. One at a time: WebKitGTK's Media Source fails to push
   * ("Failed to push buffer") when a busy page hands it several fragments in one append.
   */
  private flush(lane: Lane): void {
    const { buffer } = lane;
    if (!buffer || buffer.updating || lane.queue.length === 0) return;
    const bytes = lane.queue.shift();
    if (lane === this.video && lane.queue.length === 0) this.liveQueued = 0;
    try {
      buffer.appendBuffer(bytes as Uint8Array<ArrayBuffer>);
    } catch (error) {
      this.failed((error as Error).name);
    }
  }

  /** After each append: keep to the live edge, trim what was played, append what waits. */
  private afterAppend(lane: Lane): void {
    if (lane !== this.video && lane !== this.audio) return;
    const video = this.element;
    const ranges = video.buffered;
    if (ranges.length > 0 && lane === this.video) {
      const end = ranges.end(ranges.length - 1);
      const behind = end - video.currentTime;
      if (behind > (this.managed ? MANAGED_LAG_S : LIVE_LAG_S)) {
        video.currentTime = Math.max(ranges.start(ranges.length - 1), end - LIVE_EDGE_S);
      }
      if (video.paused) video.play().catch(() => {});
      const own = lane.buffer?.buffered;
      const start = own && own.length > 0 ? own.start(0) : end;
      if (lane.queue.length === 0 && video.currentTime - start > 2 * KEEP_BEHIND_S) {
        lane.buffer?.remove(start, video.currentTime - KEEP_BEHIND_S);
        return; // the removal ends with another updateend
      }
    }
    this.flush(lane);
  }

  /** Sound that stopped while pictures go on is taken out (else the pictures freeze). */
  private checkSound(): void {
    if (!this.audio || this.soundStopped) return;
    if (this.newestPicture - this.newestSound < SOUND_GAP_S * 1_000_000) return;
    this.soundStopped = true;
    this.rebuild();
  }

  /** Counts shown pictures and played sound with requestVideoFrameCallback. */
  private countPictures(): void {
    const video = this.element;
    const onFrame = (_now: number, metadata: VideoFrameCallbackMetadata) => {
      const origin = this.muxer?.origin;
      const pts = origin === undefined ? undefined : origin + metadata.mediaTime * 1_000_000;
      this.shownSinceError = true;
      if (pts !== undefined) {
        let played = 0;
        while (played < this.soundPending.length && (this.soundPending[played] ?? 0) <= pts)
          played++;
        if (played > 0) {
          this.soundPending.splice(0, played);
          if (!video.muted) this.soundFramesPlayed += played;
        }
      }
      this.onPicture(pts);
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  /**
   * A playback error: the MediaSource is built again from the units kept (no wait for the next
   * key unit). Errors with no picture shown between them are repeated failures: each waits
   * longer before the next build (RETRY_BASE_MS, doubling), and after MAX_ERRORS of them within
   * ERROR_WINDOW_MS the player gives up (the tile goes to JPEG). One after pictures were shown is
   * passing (a busy WebKit fails a push now and then: "Failed to push buffer", when its
   * decoder refuses a buffer) and starts the count again.
   */
  private failed(reason: string): void {
    console.warn(`camplex: MSE playback error (${reason}), building the player again`);
    const codecString = this.codecString;
    this.close();
    this.codecString = undefined;
    const now = Date.now();
    if (this.shownSinceError) this.errors = [];
    this.shownSinceError = false;
    this.errors = [...this.errors.filter((at) => now - at < ERROR_WINDOW_MS), now];
    if (this.errors.length >= MAX_ERRORS) {
      this.errors = [];
      this.kept = [];
      this.keptBytes = 0;
      this.onFailure(`MSE: ${reason}`);
      return;
    }
    // Out of the failing event's handler first; then from the kept units, if the stream is the same.
    const repeats = this.errors.length - 1;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        if (this.source === undefined && codecString !== undefined && this.kept.length > 0) {
          this.codecString = codecString;
          this.rebuild();
        }
      },
      repeats === 0 ? 0 : RETRY_BASE_MS * 2 ** (repeats - 1),
    );
  }
}
