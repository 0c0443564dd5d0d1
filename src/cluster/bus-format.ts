/**
 * What camplex nodes send each other on NATS, as bytes: a relayed unit (a picture or a sound
 * frame) is its data with codec, key, sequence number, times and publisher in headers, and now
 * and then the camera's sound details; the late-join cache is several replies of whole units
 * under max_payload, ended by an empty one. Pure: no connection here.
 */
import { headers, type Msg } from '@nats-io/transport-node';
import type { AudioInfo, Codec, Frame } from '../camera/camera.js';
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
/** Room kept in each NATS message for its headers and subject. */
const HEADER_ROOM_BYTES = 1024;

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

export function frameOf(msg: Msg): Relayed | undefined {
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
 * The cache reply: replies of whole frames, each `[u32 length][u8 key][u32 seq]` + unit per
 * frame and under `maxPayload` (codec and publisher in headers), in order, then an empty reply
 * that ends them. A frame that does not fit one message alone cannot go: then none go (the
 * frames after it would not decode), and the asking node waits for the next key unit.
 */
export function respondWithFrames(
  msg: Msg,
  frames: readonly Frame[],
  publisher: string,
  maxPayload: number,
  /** Whether a reply of this many bytes may go now (the owner's publish window). */
  admit: (bytes: number) => boolean = () => true,
): { messages: number; frames: number; bytes: number; cut: boolean } {
  const budget = maxPayload - HEADER_ROOM_BYTES;
  const fits = frames.every((frame) => FRAME_HEADER_BYTES + frame.data.length <= budget);
  let chunk: Frame[] = [];
  let size = 0;
  const sent = { messages: 0, frames: 0, bytes: 0, cut: false };
  const send = () => {
    if (chunk.length === 0 || sent.cut) return;
    // Refused: what went is a prefix from the key unit on, which the asker can play.
    if (!admit(size)) {
      sent.cut = true;
      return;
    }
    sent.messages++;
    sent.frames += chunk.length;
    sent.bytes += size;
    const body = new Uint8Array(size);
    const view = new DataView(body.buffer);
    let at = 0;
    for (const frame of chunk) {
      view.setUint32(at, frame.data.length);
      view.setUint8(at + 4, frame.key ? 1 : 0);
      view.setUint32(at + 5, frame.seq);
      view.setFloat64(at + 9, frame.pts);
      view.setFloat64(at + 17, frame.dts);
      body.set(frame.data, at + FRAME_HEADER_BYTES);
      at += FRAME_HEADER_BYTES + frame.data.length;
    }
    const h = headers();
    h.set('codec', chunk[0]?.codec ?? 'jpeg');
    h.set('from', publisher);
    msg.respond(body, { headers: h });
    chunk = [];
    size = 0;
  };
  for (const frame of fits ? frames : []) {
    const bytes = FRAME_HEADER_BYTES + frame.data.length;
    if (size + bytes > budget) send();
    chunk.push(frame);
    size += bytes;
  }
  send();
  msg.respond(new Uint8Array(0)); // the end
  return sent;
}

export function framesOf(msg: Msg) {
  const codec = msg.headers?.get('codec') as Codec | undefined;
  const from = msg.headers?.get('from') ?? '';
  const frames: Relayed[] = [];
  if (codec !== 'jpeg' && codec !== 'h264' && codec !== 'h265') return frames; // pictures only
  const body = msg.data;
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
