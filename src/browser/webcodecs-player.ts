/**
 * Decodes one camera's H.264 / H.265 access units with WebCodecs' VideoDecoder and hands on the
 * pictures to show, each with its presentation time (B-frames come out reordered, as timed). It
 * starts at a key unit (after configure, and after any error), closes the pictures of
 * decode-only units (a late joiner's catch-up, however long its GOP) unseen, and recreates the
 * decoder after an error. A catch-up is decoded as fast as the decoder takes it and never
 * dropped. Live units past a bound are dropped until the next key unit (a decoder that cannot
 * keep up gets a GOP's rest off; a delta after a gap decodes to garbage), except right after a
 * stall: a page whose main thread was held gets the units of those seconds at once, and those
 * are decoded unseen (showing them would only replay the past) so the picture goes on without
 * waiting for a key unit. Repeated errors make it give up: the tile asks for JPEG.
 */
import type { VideoUnit } from '../protocol/wire.js';

/**
 * Live units waiting in the decoder past which the next ones are decoded unseen: about a
 * second at 15 fps. A page decoding 16 cameras in software queues 8-12 units at busy moments
 * (B10: with a bound of 8, dropping there, WebKit showed 11.9 and Firefox 12.0 pictures a
 * second of 15, against 14.8 and 14.5 with 16).
 */
const MAX_SHOWN_QUEUE = 16;
/**
 * A live unit this long after the one before means the page was stalled (a busy main thread,
 * a tab back from the background): for CATCH_UP_MS the units past MAX_SHOWN_QUEUE are decoded
 * unseen instead of dropped. Count alone cannot tell a stall's burst from a decoder that cannot
 * keep up, and the two want opposite answers: B13 measures the first picture after a 2 s stall
 * (4.1 s on a 10 s GOP when the burst was dropped), B10 a 16-camera wall that WebKit decodes
 * slower than the cameras send (6.4 of 15 pictures a second when such a queue was decoded).
 */
const STALL_MS = 500;
const CATCH_UP_MS = 1000;
/** Live units queued past which deltas are dropped even while catching up (memory). */
const MAX_DECODE_QUEUE = 600;
/** This many decoder errors within ERROR_WINDOW_MS and the stream goes to JPEG. */
const MAX_ERRORS = 3;
const ERROR_WINDOW_MS = 60_000;

export class WebCodecsPlayer {
  private decoder: VideoDecoder | undefined;
  private codecString: string | undefined;
  private needKey = true;
  /** Presentation times of the server's decode-only units (a catch-up) not yet decoded. */
  private readonly catchUp = new Set<number>();
  /** Presentation times of live units decoded unseen (the page was behind), not yet decoded. */
  private readonly unseen = new Set<number>();
  /** When the last live unit came, and until when units past the bound are decoded unseen. */
  private lastLiveAt = Number.NEGATIVE_INFINITY;
  private catchUpUntil = Number.NEGATIVE_INFINITY;
  private errors: number[] = [];
  private readonly now: () => number;
  private readonly onPicture: (frame: VideoFrame) => void;
  private readonly onFailure: (reason: string) => void;

  /** `onPicture` owns every frame it is given (it must close it). */
  constructor(
    onPicture: (frame: VideoFrame) => void,
    onFailure: (reason: string) => void,
    now: () => number = () => performance.now(),
  ) {
    this.onPicture = onPicture;
    this.onFailure = onFailure;
    this.now = now;
  }

  /** Decodes `unit` of a stream whose decoder is configured with `codecString`. */
  push(unit: VideoUnit, codecString: string | undefined): void {
    if (codecString === undefined) return; // told with the camera's state, before its units
    if (!this.decoder || this.codecString !== codecString) this.configure(codecString);
    const decoder = this.decoder;
    if (!decoder) return;
    const live = decoder.decodeQueueSize - this.catchUp.size;
    const now = this.now();
    if (!unit.decodeOnly) {
      if (now - this.lastLiveAt > STALL_MS) this.catchUpUntil = now + CATCH_UP_MS;
      this.lastLiveAt = now;
    }
    const behind = !unit.decodeOnly && live > MAX_SHOWN_QUEUE;
    const catchingUp = now < this.catchUpUntil && live <= MAX_DECODE_QUEUE;
    const fallenBehind = behind && !catchingUp;
    if (!unit.key && (this.needKey || fallenBehind)) {
      this.needKey = true;
      return;
    }
    this.needKey = false;
    if (unit.decodeOnly) this.catchUp.add(unit.timestamp);
    else if (behind && catchingUp) this.unseen.add(unit.timestamp);
    try {
      decoder.decode(
        new EncodedVideoChunk({
          type: unit.key ? 'key' : 'delta',
          timestamp: unit.timestamp,
          data: unit.data,
        }),
      );
    } catch (error) {
      this.failed(error);
    }
  }

  close(): void {
    if (this.decoder && this.decoder.state !== 'closed') this.decoder.close();
    this.decoder = undefined;
    this.catchUp.clear();
    this.unseen.clear();
  }

  private configure(codecString: string): void {
    this.close();
    this.codecString = codecString;
    this.needKey = true;
    const decoder = new VideoDecoder({
      output: (frame) => {
        if (this.catchUp.delete(frame.timestamp) || this.unseen.delete(frame.timestamp)) {
          frame.close();
        } else this.onPicture(frame);
      },
      error: (error) => this.failed(error),
    });
    // Annex B units carry their parameter sets, so no `description`.
    decoder.configure({ codec: codecString, optimizeForLatency: true });
    this.decoder = decoder;
  }

  /** A decoder error: start again at the next key unit; give up after repeated ones. */
  private failed(error: unknown): void {
    this.close();
    this.needKey = true;
    const name = error instanceof DOMException ? error.name : 'Error';
    if (name === 'QuotaExceededError') return; // a hidden tab's decoder was reclaimed
    console.warn(`camplex: video decoder error (${name}), waiting for the next key frame`);
    const now = Date.now();
    this.errors = [...this.errors.filter((at) => now - at < ERROR_WINDOW_MS), now];
    if (this.errors.length >= MAX_ERRORS) {
      this.errors = [];
      this.onFailure(`${name}: ${(error as Error)?.message ?? 'decoder error'}`);
    }
  }
}

/** The video formats this browser decodes, checked with WebCodecs (none outside secure contexts). */
export async function decodableVideo(): Promise<Array<'h264' | 'h265'>> {
  if (typeof VideoDecoder === 'undefined') return [];
  const probes: Array<['h264' | 'h265', string]> = [
    ['h264', 'avc1.42E01E'],
    ['h265', 'hvc1.1.6.L93.B0'],
  ];
  const supported = await Promise.all(
    probes.map(async ([format, codec]) => {
      try {
        return (await VideoDecoder.isConfigSupported({ codec })).supported ? format : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  return supported.filter((format) => format !== undefined);
}

/** Whether this browser decodes exactly `codecString` (a stream's own profile and level). */
export async function decodes(codecString: string): Promise<boolean> {
  if (typeof VideoDecoder === 'undefined') return false;
  try {
    return (await VideoDecoder.isConfigSupported({ codec: codecString })).supported === true;
  } catch {
    return false;
  }
}
