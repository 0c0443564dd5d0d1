/**
 * Decodes one camera's H.264 / H.265 access units with WebCodecs' VideoDecoder and hands on the
 * pictures to show, each with its presentation time (B-frames come out reordered, as timed). It
 * starts at a key unit (after configure, and after any error), closes the pictures of
 * decode-only units (a late joiner's catch-up, however long its GOP) unseen, and recreates the
 * decoder after an error. A catch-up is decoded as fast as the decoder takes it and never
 * dropped; only live units count against the queue bound, past which deltas are dropped until the
 * next key unit (a delta after a gap decodes to garbage). Repeated errors make it give up: the
 * tile asks for JPEG.
 */
import type { VideoUnit } from '../protocol/wire.js';

/**
 * Units waiting in the decoder before deltas are dropped until the next key unit: about a
 * second at 15 fps. A page decoding 16 cameras in software queues 8-12 units at busy moments;
 * with a bound of 8 each such moment cost up to a whole GOP (B10: WebKit showed 11.9 and
 * Firefox 12.0 pictures a second of 15, against 14.8 and 14.5 with 16).
 */
const MAX_DECODE_QUEUE = 16;
/** This many decoder errors within ERROR_WINDOW_MS and the stream goes to JPEG. */
const MAX_ERRORS = 3;
const ERROR_WINDOW_MS = 60_000;

export class WebCodecsPlayer {
  private decoder: VideoDecoder | undefined;
  private codecString: string | undefined;
  private needKey = true;
  /** Presentation times of decode-only units not yet out of the decoder. */
  private readonly decodeOnly = new Set<number>();
  private errors: number[] = [];
  private readonly onPicture: (frame: VideoFrame) => void;
  private readonly onFailure: (reason: string) => void;

  /** `onPicture` owns every frame it is given (it must close it). */
  constructor(onPicture: (frame: VideoFrame) => void, onFailure: (reason: string) => void) {
    this.onPicture = onPicture;
    this.onFailure = onFailure;
  }

  /** Decodes `unit` of a stream whose decoder is configured with `codecString`. */
  push(unit: VideoUnit, codecString: string | undefined): void {
    if (codecString === undefined) return; // told with the camera's state, before its units
    if (!this.decoder || this.codecString !== codecString) this.configure(codecString);
    const decoder = this.decoder;
    if (!decoder) return;
    const live = decoder.decodeQueueSize - this.decodeOnly.size;
    if (!unit.key && (this.needKey || (!unit.decodeOnly && live > MAX_DECODE_QUEUE))) {
      this.needKey = true;
      return;
    }
    this.needKey = false;
    if (unit.decodeOnly) this.decodeOnly.add(unit.timestamp);
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
    this.decodeOnly.clear();
  }

  private configure(codecString: string): void {
    this.close();
    this.codecString = codecString;
    this.needKey = true;
    const decoder = new VideoDecoder({
      output: (frame) => {
        if (this.decodeOnly.delete(frame.timestamp)) frame.close();
        else this.onPicture(frame);
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
