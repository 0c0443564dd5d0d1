/**
 * What camplex nodes send each other on NATS, as bytes: a relayed unit (a picture or a sound
 * frame) is its data with codec, key, sequence number, times and publisher in headers, and now
 * and then the camera's sound details. A unit larger than one message may be (the server's
 * max_payload) goes as pieces, each with every header and `part: <index>/<count>`, joined again
 * by the receiver (UnitAssembler). The late-join cache is one byte stream of framed units cut
 * into replies under max_payload wherever the cut falls, each with its offset in the stream,
 * ended by an empty one (CacheStream joins them). Pure: no connection here.
 */
import { headers, type Msg } from '@nats-io/transport-node';
import type { AudioInfo, Codec, Frame } from '../camera/camera.js';
import { concat } from '../common/bytes.js';
import { AUDIO_CODECS } from '../frames/codecs.js';

/** A frame as another node relayed it; `from` names the publisher (node and start). */
export interface Relayed {
  data: Uint8Array;
  codec: Codec;
  key: boolean;
  seq: number;
  /** Presentation and decode time, microseconds on the publisher's clock. */
  pts: number;
  dts: number;
  from: string;
  /** The camera's sound, when the publisher told it with this unit. */
  audio?: AudioInfo;
}

const CODECS: readonly string[] = ['jpeg', 'h264', 'h265', ...AUDIO_CODECS];

/**
 * What a cache reply's frame costs besides its bytes:
 * `[u32 length][u8 key][u32 seq][f64 pts][f64 dts]`.
 */
const FRAME_HEADER_BYTES = 25;
/** Room kept in each cache reply for its headers and subject (a quarter of a tiny max_payload). */
const HEADER_ROOM_BYTES = 1024;
/**
 * Bounds of a unit in pieces, which a receiver holds until its last piece: as many pieces as a
 * 64 MiB unit (stream.maxFrameBytes' most) needs at a 256 KiB max_payload, and no more bytes.
 */
export const MAX_PIECES = 256;
export const MAX_UNIT_BYTES = 64 * 1024 * 1024;
/** Publishers whose pieces are joined at once on one subject (an owner, and one handing over). */
const MAX_PUBLISHERS = 2;

/** The headers of a relayed `frame`, with the camera's sound details when `audio` is given. */
export function headersOf(frame: Frame, publisher: string, audio?: AudioInfo) {
  const h = headers();
  h.set('from', publisher);
  h.set('codec', frame.codec);
  h.set('key', frame.key ? '1' : '0');
  h.set('seq', String(frame.seq));
  h.set('pts', String(frame.pts));
  if (frame.dts !== frame.pts) h.set('dts', String(frame.dts));
  if (audio) h.set('audio', JSON.stringify(audio));
  return h;
}

function frameOf(msg: Msg): Relayed | undefined {
  const h = msg.headers;
  const codec = h?.get('codec') as Codec | undefined;
  const seq = Number(h?.get('seq'));
  const pts = Number(h?.get('pts'));
  const dts = h?.has('dts') ? Number(h.get('dts')) : pts;
  if (!h || !CODECS.includes(codec as string) || !Number.isInteger(seq)) return undefined;
  if (!Number.isFinite(pts) || !Number.isFinite(dts)) return undefined;
  const audio = h.has('audio') ? audioOf(h.get('audio')) : undefined;
  return {
    data: msg.data,
    codec: codec as Codec,
    key: h.get('key') === '1',
    seq,
    pts,
    dts,
    from: h.get('from'),
    ...(audio ? { audio } : {}),
  };
}

/**
 * A relayed unit's data as the messages that carry it, each at most `maxBytes` long: the data
 * itself when it fits one, else pieces (views, no copy). Undefined when it would take more
 * than MAX_PIECES.
 */
export function piecesOf(data: Uint8Array, maxBytes: number): Uint8Array[] | undefined {
  if (data.length <= maxBytes) return [data];
  const count = Math.ceil(data.length / maxBytes);
  if (count > MAX_PIECES || maxBytes <= 0) return undefined;
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += maxBytes) {
    pieces.push(data.subarray(at, Math.min(at + maxBytes, data.length)));
  }
  return pieces;
}

/** The `part` header of piece `index` of `count`. */
export function partOf(index: number, count: number): string {
  return `${index}/${count}`;
}

/**
 * Joins the pieces of relayed units on one subject. NATS keeps one publisher's messages on a
 * subject in order, so a unit's pieces come one after the other; a piece out of turn (a
 * missing one, a count that changed) drops the unit being joined, which the receiver then
 * treats as any lost unit. Pieces are joined per publisher (during a handover two may
 * publish for a moment), at most MAX_PUBLISHERS at once, each holding at most one unit of
 * MAX_UNIT_BYTES.
 */
export class UnitAssembler {
  private readonly pending = new Map<
    string,
    { seq: number; count: number; next: number; pieces: Uint8Array[]; bytes: number }
  >();

  /** The unit `msg` is or completes; undefined for a piece short of the last, or a bad one. */
  take(msg: Msg): Relayed | undefined {
    const frame = frameOf(msg);
    if (!frame) return undefined;
    const part = msg.headers?.get('part') ?? '';
    if (part === '') return frame;
    const match = /^(\d{1,3})\/(\d{1,3})$/.exec(part);
    const index = Number(match?.[1]);
    const count = Number(match?.[2]);
    if (!match || count < 2 || count > MAX_PIECES || index >= count) return this.drop(frame.from);
    if (index === 0) {
      this.pending.delete(frame.from); // newest last: the oldest publisher goes first
      if (this.pending.size >= MAX_PUBLISHERS) {
        const oldest = this.pending.keys().next().value;
        if (oldest !== undefined) this.pending.delete(oldest);
      }
      this.pending.set(frame.from, { seq: frame.seq, count, next: 0, pieces: [], bytes: 0 });
    }
    const pending = this.pending.get(frame.from);
    if (
      pending === undefined ||
      pending.next !== index ||
      pending.count !== count ||
      pending.seq !== frame.seq ||
      pending.bytes + frame.data.length > MAX_UNIT_BYTES
    ) {
      return this.drop(frame.from);
    }
    pending.pieces.push(frame.data);
    pending.bytes += frame.data.length;
    pending.next++;
    if (pending.next < count) return undefined;
    this.pending.delete(frame.from);
    return { ...frame, data: concat(pending.pieces) };
  }

  private drop(from: string): undefined {
    this.pending.delete(from);
    return undefined;
  }
}

/** Sound details another node told, checked field by field (anything else is ignored). */
function audioOf(text: string): AudioInfo | undefined {
  try {
    const value = JSON.parse(text) as Partial<AudioInfo>;
    const { codec, codecString, rate, channels, config } = value;
    if (!AUDIO_CODECS.includes(codec as never) || typeof codecString !== 'string') return undefined;
    if (!Number.isFinite(rate) || !Number.isInteger(channels)) return undefined;
    if (config !== undefined && (typeof config !== 'string' || !/^[0-9a-f]{0,256}$/.test(config))) {
      return undefined;
    }
    return {
      codec: codec as AudioInfo['codec'],
      codecString: codecString.slice(0, 32),
      rate: rate as number,
      channels: channels as number,
      ...(config ? { config } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * The cache reply: every frame as `[u32 length][u8 key][u32 seq][f64 pts][f64 dts]` + unit, one
 * after the other, that byte stream cut into replies under `maxPayload` (codec, publisher and
 * the reply's offset in the stream, `at`, in headers), in order, then an empty reply that ends
 * them. A unit larger than one message spans several. Each reply is made only when `room`
 * (the owner's publish window and deadline) lets it go, so what is held is one reply and the
 * frames' list, never a copy of the whole cache; one refused ends the stream there: what went
 * is a prefix from the key unit on, which the asker can play up to its last whole unit.
 */
export async function respondWithFrames(
  msg: Msg,
  frames: readonly Frame[],
  publisher: string,
  maxPayload: number,
  /** Whether a reply of this many bytes may go (it may wait for the owner's publish window). */
  room: (bytes: number) => boolean | Promise<boolean> = () => true,
): Promise<{ messages: number; frames: number; bytes: number; cut: boolean }> {
  const budget = Math.max(1, maxPayload - Math.min(HEADER_ROOM_BYTES, Math.floor(maxPayload / 4)));
  let total = 0;
  for (const frame of frames) total += FRAME_HEADER_BYTES + frame.data.length;
  const sent = { messages: 0, frames: 0, bytes: 0, cut: false };
  const codec = frames[0]?.codec ?? 'jpeg';
  const head = new Uint8Array(FRAME_HEADER_BYTES);
  const headView = new DataView(head.buffer);
  let index = 0; // the frame being written
  let within = 0; // bytes of its record already written
  while (sent.bytes < total) {
    const size = Math.min(budget, total - sent.bytes);
    if (!(await room(size))) {
      sent.cut = true;
      break;
    }
    const body = new Uint8Array(size);
    for (let at = 0; at < size; ) {
      const frame = frames[index] as Frame;
      if (within < FRAME_HEADER_BYTES) {
        headView.setUint32(0, frame.data.length);
        headView.setUint8(4, frame.key ? 1 : 0);
        headView.setUint32(5, frame.seq);
        headView.setFloat64(9, frame.pts);
        headView.setFloat64(17, frame.dts);
        const part = head.subarray(within, Math.min(FRAME_HEADER_BYTES, within + size - at));
        body.set(part, at);
        at += part.length;
        within += part.length;
        continue;
      }
      const from = within - FRAME_HEADER_BYTES;
      const part = frame.data.subarray(from, Math.min(frame.data.length, from + size - at));
      body.set(part, at);
      at += part.length;
      within += part.length;
      if (within === FRAME_HEADER_BYTES + frame.data.length) {
        index++;
        within = 0;
        sent.frames++;
      }
    }
    const h = headers();
    h.set('codec', codec);
    h.set('from', publisher);
    h.set('at', String(sent.bytes));
    msg.respond(body, { headers: h });
    sent.messages++;
    sent.bytes += size;
  }
  msg.respond(new Uint8Array(0)); // the end
  return sent;
}

/**
 * Joins a cache reply's bodies in order, from one publisher, each where the last ended (`at`):
 * a reply lost on the way, or one from another owner, ends the stream there, so no unit is
 * made of bytes that do not belong together. Takes at most `maxBytes`. Returns what it took.
 */
export class CacheStream {
  private readonly bodies: Uint8Array[] = [];
  private first: Msg | undefined;
  private bytes = 0;
  private ended = false;

  constructor(private readonly maxBytes: number) {}

  /** Takes `reply`; false once the stream has ended (what came since is not taken). */
  take(reply: Msg): boolean {
    if (this.ended) return false;
    const from = reply.headers?.get('from');
    const at = Number(reply.headers?.get('at'));
    const fits = this.bytes + reply.data.length <= this.maxBytes;
    if (at !== this.bytes || !fits || (this.first && from !== this.first.headers?.get('from'))) {
      this.ended = true;
      return false;
    }
    this.first ??= reply;
    this.bodies.push(reply.data);
    this.bytes += reply.data.length;
    return true;
  }

  /** The whole units that came. */
  frames(): Relayed[] {
    return this.first ? framesOf(this.first, concat(this.bodies)) : [];
  }
}

/**
 * The frames of a cache reply's byte stream: the replies' bodies joined in order (`body`),
 * their codec and publisher from the first (`first`). A unit cut short at the end is left out.
 */
export function framesOf(first: Msg, body: Uint8Array = first.data): Relayed[] {
  const codec = first.headers?.get('codec') as Codec | undefined;
  const from = first.headers?.get('from') ?? '';
  const frames: Relayed[] = [];
  if (codec !== 'jpeg' && codec !== 'h264' && codec !== 'h265') return frames; // pictures only
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  for (let at = 0; at + FRAME_HEADER_BYTES <= body.length; ) {
    const length = view.getUint32(at);
    if (at + FRAME_HEADER_BYTES + length > body.length) break;
    frames.push({
      data: body.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length),
      codec,
      key: view.getUint8(at + 4) === 1,
      seq: view.getUint32(at + 5),
      pts: view.getFloat64(at + 9),
      dts: view.getFloat64(at + 17),
      from,
    });
    at += FRAME_HEADER_BYTES + length;
  }
  return frames;
}
