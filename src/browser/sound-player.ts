/**
 * Plays one camera's sound through the page's AudioContext, in step with its pictures. Frames
 * are decoded by WebCodecs' AudioDecoder where it takes the codec (AAC with its
 * AudioSpecificConfig, Opus, G.711), else G.711 by table (g711.ts; no other codec plays without
 * it), and each is scheduled at the moment the picture of the same presentation time is (or
 * would be) shown, read off the tile's VideoClock and turned into the context's time with
 * `getOutputTimestamp()` (which counts the output's latency). Frames follow one another without
 * gaps while they land within SLACK_S of that moment; further off, playback moves to it (a
 * pause in the camera's sound, or drift), and a frame that would play far too late is skipped.
 * How far each frame lands from its moment is the A/V offset the tile shows.
 */
import { fromHex } from '../common/bytes.js';
import type { AudioInfo, AudioUnit } from '../protocol/wire.js';
import { decodeG711 } from './g711.js';

/** Closer than this to the picture's moment, a frame just follows the one before it. */
const SLACK_S = 0.03;
/** Scheduled at least this far ahead of the context's current time. */
const MIN_LEAD_S = 0.005;
/** Later than this behind its moment, a frame is skipped (playback catches up). */
const SKIP_LATE_S = 0.25;
/** An output timestamp older than this is not trusted. */
const STAMP_FRESH_MS = 500;
/** With no picture shown yet, sound plays this far behind its arrival. */
const SOUND_ONLY_LEAD_MS = 80;

/** Where a tile's pictures are: presentation time (us) -> performance.now() time it shows. */
export class VideoClock {
  /** performance.now() - pts / 1000 of the pictures shown, smoothed (undefined before any). */
  private offset: number | undefined;

  /** A picture of presentation time `pts` (us) was shown at `shownAt` (performance.now()). */
  note(pts: number, shownAt: number): void {
    const sample = shownAt - pts / 1000;
    // A display is late by up to a refresh or two: lean towards the earliest, smooth the rest.
    this.offset =
      this.offset === undefined || sample < this.offset
        ? sample
        : this.offset + 0.05 * (sample - this.offset);
  }

  /** When (performance.now()) the picture of `pts` shows, if the tile has shown any. */
  timeOf(pts: number): number | undefined {
    return this.offset === undefined ? undefined : this.offset + pts / 1000;
  }

  /** Forget (the stream started again: its times are new). */
  reset(): void {
    this.offset = undefined;
  }
}

/**
 * Whether WebCodecs' AudioDecoder can be used here. WebKitGTK 2.50 (WebKit on Linux) decodes,
 * but reading the samples out (`AudioData.copyTo`) crashes the page (measured, whatever the
 * buffer or format): there, only G.711 plays, by table.
 */
export function audioDecoderUsable(): boolean {
  if (typeof AudioDecoder === 'undefined') return false;
  const agent = globalThis.navigator?.userAgent ?? '';
  const webKitOnLinux =
    /AppleWebKit/.test(agent) && /Linux/.test(agent) && !/Chrome|Chromium|Android/.test(agent);
  return !webKitOnLinux;
}

/** Whether this page plays `info`'s sound: by AudioDecoder, or G.711 by table. */
export async function playsSound(
  info: Pick<AudioInfo, 'codec' | 'codecString' | 'rate' | 'channels' | 'config'>,
): Promise<boolean> {
  if (info.codec === 'pcma' || info.codec === 'pcmu') return true;
  if (!audioDecoderUsable()) return false;
  try {
    return (await AudioDecoder.isConfigSupported(configOf(info))).supported === true;
  } catch {
    return false;
  }
}

export class SoundPlayer {
  private readonly info: AudioInfo;
  private readonly context: AudioContext;
  private readonly clock: VideoClock;
  private readonly onPlayed: (offsetMs: number) => void;
  private decoder: AudioDecoder | undefined;
  /** Where the next frame starts when it follows on (context time, s). */
  private next: number | undefined;
  /** performance.now() - pts / 1000 when playing without pictures. */
  private soundOnly: number | undefined;
  private closed = false;

  /** `onPlayed` is told of each frame scheduled, with how far (ms) it lands from its picture. */
  constructor(
    info: AudioInfo,
    context: AudioContext,
    clock: VideoClock,
    onPlayed: (offsetMs: number) => void,
  ) {
    this.info = info;
    this.context = context;
    this.clock = clock;
    this.onPlayed = onPlayed;
    if (audioDecoderUsable() && info.codec !== 'pcma' && info.codec !== 'pcmu') {
      this.decoder = this.makeDecoder();
    } else if (audioDecoderUsable()) {
      // G.711 through WebCodecs where it says yes, else by table (decided by the first frame).
      void AudioDecoder.isConfigSupported(configOf(info))
        .then((answer) => {
          if (answer.supported && !this.closed) this.decoder = this.makeDecoder();
        })
        .catch(() => {});
    }
  }

  push(unit: AudioUnit): void {
    if (this.closed || unit.codec !== this.info.codec) return;
    if (this.decoder) {
      if (this.decoder.state === 'closed') return;
      try {
        this.decoder.decode(
          new EncodedAudioChunk({ type: 'key', timestamp: unit.timestamp, data: unit.data }),
        );
      } catch {
        // a frame the decoder refuses is skipped
      }
      return;
    }
    if (unit.codec !== 'pcma' && unit.codec !== 'pcmu') return;
    const samples = decodeG711(unit.codec, unit.data);
    if (samples.length === 0) return;
    const buffer = this.context.createBuffer(1, samples.length, this.info.rate);
    buffer.copyToChannel(samples, 0);
    this.schedule(buffer, unit.timestamp);
  }

  close(): void {
    this.closed = true;
    if (this.decoder && this.decoder.state !== 'closed') this.decoder.close();
    this.decoder = undefined;
  }

  private makeDecoder(): AudioDecoder {
    const decoder = new AudioDecoder({
      output: (data) => {
        try {
          if (!this.closed) this.schedule(bufferOf(this.context, data), data.timestamp);
        } finally {
          data.close();
        }
      },
      error: (error) => console.warn(`camplex: sound decoder error (${error.name})`),
    });
    decoder.configure(configOf(this.info));
    return decoder;
  }

  /** Plays `buffer`, heard at `pts` (us), where its picture shows. */
  private schedule(buffer: AudioBuffer, pts: number): void {
    const { context } = this;
    const now = performance.now();
    let due = this.clock.timeOf(pts);
    if (due === undefined) {
      this.soundOnly ??= now + SOUND_ONLY_LEAD_MS - pts / 1000;
      due = this.soundOnly + pts / 1000;
    }
    const target = this.contextTimeOf(due);
    const earliest = context.currentTime + MIN_LEAD_S;
    let start: number;
    if (this.next !== undefined && Math.abs(target - this.next) < SLACK_S) {
      start = Math.max(this.next, earliest);
    } else if (target < earliest - SKIP_LATE_S) {
      this.next = undefined;
      return; // far too late: skip it, the next frame starts afresh
    } else {
      start = Math.max(target, earliest);
    }
    const source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(context.destination);
    source.start(start);
    this.next = start + buffer.duration;
    this.onPlayed((start - target) * 1000);
  }

  /** The context time heard at performance.now() time `at`. */
  private contextTimeOf(at: number): number {
    const { context } = this;
    const now = performance.now();
    const stamp = context.getOutputTimestamp();
    // A stamp says which sample is heard when; it must be of the last moment (WebKitGTK 2.50's
    // performanceTime runs at twice the page's clock: measured), else it is not used.
    const { contextTime, performanceTime } = stamp;
    if (
      contextTime !== undefined &&
      performanceTime !== undefined &&
      performanceTime > 0 &&
      performanceTime <= now + 1 &&
      now - performanceTime < STAMP_FRESH_MS
    ) {
      return contextTime + (at - performanceTime) / 1000;
    }
    // Without one: what is scheduled now is heard after the output's latency.
    const latency = context.outputLatency || context.baseLatency || 0;
    return context.currentTime + (at - now) / 1000 - latency;
  }
}

function configOf(
  info: Pick<AudioInfo, 'codec' | 'codecString' | 'rate' | 'channels' | 'config'>,
): AudioDecoderConfig {
  return {
    codec: info.codecString,
    sampleRate: info.rate,
    numberOfChannels: info.channels,
    ...(info.codec === 'aac' && info.config ? { description: fromHex(info.config) } : {}),
  };
}

function bufferOf(context: AudioContext, data: AudioData): AudioBuffer {
  const buffer = context.createBuffer(data.numberOfChannels, data.numberOfFrames, data.sampleRate);
  for (let channel = 0; channel < data.numberOfChannels; channel++) {
    const plane = new Float32Array(data.numberOfFrames);
    data.copyTo(plane, { planeIndex: channel, format: 'f32-planar' });
    buffer.copyToChannel(plane, channel);
  }
  return buffer;
}
