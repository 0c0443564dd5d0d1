/**
 * The camplex wire format, shared by the server and the browser: pure functions on bytes and
 * strings, no I/O. docs/PROTOCOL.md describes it; test/fixtures/protocol-vectors.ts holds the bytes both sides
 * are tested against.
 */
import type { AudioInfo, CameraInfo, CameraState, PtzPreset } from '../camera/states.js';
import { lengthPrefixed } from '../common/bytes.js';
import { CAMERA_ID_PATTERN, STREAM_NAME_PATTERN } from '../common/camera-id.js';
import { CamplexError, type ErrorCode, ErrorCodes } from '../common/errors.js';
import { clip } from '../common/text.js';

/** 2: sound, and video timed by the camera (see docs/PROTOCOL.md); version 1 clients see no change. */
export const PROTOCOL_VERSION = 2;
export const WS_PATH = '/ws/cameras';
/** The multipart boundary of camplex's own /mjpeg/<id> responses (the browser's fallback reads them). */
export const MJPEG_BOUNDARY = 'camplexmjpeg';
export { CAMERA_ID_PATTERN, STREAM_NAME_PATTERN };
/** Subprotocol for the default frame layout (offering none means the same). */
export const SUBPROTOCOL = 'camplex.v1';
/** Subprotocol for the extended frame layout: sequence number and send time per frame. */
export const SUBPROTOCOL_EXTENDED = 'camplex.v1.extended';
/** Bytes between the camera id and the payload in the extended layout. */
const EXTENDED_HEADER_BYTES = 12;
/** All the extended layout puts between the camera id and the payload (its length byte too). */
export const EXTENDED_HEAD_BYTES = 1 + EXTENDED_HEADER_BYTES;

/** Client-supplied names (a command, an unknown camera id) are echoed back at most this long. */
export const CLIPPED_CHARS = 64;
/** A subscribe or unsubscribe naming more cameras than this is refused as a whole. */
export const MAX_CAMERAS_PER_COMMAND = 1024;

export type { AudioInfo, CameraInfo, CameraState, PtzPreset };

export type ServerMessage =
  | {
      type: 'hello';
      protocol: number;
      cameras: CameraInfo[];
      /**
       * The socket's ack window (`stream.maxUnackedBytes`): a client that acks acknowledges
       * about every eighth of it (AckCadence). Absent from servers before it was announced.
       */
      maxUnackedBytes?: number;
      /** The config's camera groups (name -> camera ids), when it has any. */
      groups?: Record<string, string[]>;
    }
  | ({ type: 'state' } & CameraInfo)
  | { type: 'subscribed'; cameras: string[] }
  | { type: 'unsubscribed'; cameras: string[] }
  | { type: 'error'; code: ErrorCode; message: string; cameras?: string[] };

/** The sound a frame may carry: AAC, Opus, G.711 A-law (`pcma`) or mu-law (`pcmu`). */
export type AudioFormat = 'aac' | 'opus' | 'pcma' | 'pcmu';
export const AUDIO_FORMATS: readonly AudioFormat[] = ['aac', 'opus', 'pcma', 'pcmu'];
/** What a frame carries: a JPEG, an H.264 / H.265 access unit, or a frame of sound. */
export type MediaFormat = 'jpeg' | 'h264' | 'h265' | AudioFormat;
export const MEDIA_FORMATS: readonly MediaFormat[] = ['jpeg', 'h264', 'h265', ...AUDIO_FORMATS];

export type ClientCommand =
  | {
      cmd: 'subscribe';
      cameras: string[];
      formats?: MediaFormat[];
      /** Video payloads carry the decode time beside the presentation time (types 3 and 4). */
      decodeTimes?: boolean;
    }
  | { cmd: 'unsubscribe'; cameras: string[] }
  /** Flow control: bytes of binary frame messages received on this socket so far. */
  | { cmd: 'ack'; bytes: number }
  /** Frames that come within `maxDelayMs` of a write may wait for one batch (0: never). */
  | { cmd: 'batch'; maxDelayMs: number }
  | PtzCommand;

/**
 * Moving a camera. `move` and `zoom` are speeds from -1 to 1 (pan right, tilt up, zoom in are
 * positive) that last only while the client repeats them (at least every PTZ_KEEPALIVE_MS);
 * `stop` ends both; `preset` goes to a stored position.
 */
export type PtzCommand =
  | { cmd: 'ptz'; camera: string; action: 'move'; pan: number; tilt: number }
  | { cmd: 'ptz'; camera: string; action: 'zoom'; zoom: number }
  | { cmd: 'ptz'; camera: string; action: 'stop' }
  | { cmd: 'ptz'; camera: string; action: 'preset'; preset: string };

/** How often a client repeats a held move; the server stops a move not repeated for 3 of these. */
export const PTZ_KEEPALIVE_MS = 300;
const PTZ_ACTIONS = ['move', 'zoom', 'stop', 'preset'];

/** The longest a server may hold a frame back to send it in a batch (ms). */
export const MAX_BATCH_DELAY_MS = 10;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The `[1 byte id length][id bytes]` prefix of every binary frame message of one stream: a
 * camera id, or `<id>@sub` for its sub-stream.
 */
export function framePrefix(stream: string): Uint8Array {
  if (!STREAM_NAME_PATTERN.test(stream)) {
    throw new TypeError(`invalid stream name ${JSON.stringify(stream)}`);
  }
  const id = encoder.encode(stream);
  const prefix = new Uint8Array(1 + id.length);
  prefix[0] = id.length;
  prefix.set(id, 1);
  return prefix;
}

/**
 * Builds one binary frame message: prefix then payload (one JPEG). `allocate` may hand out
 * memory that is not zeroed (the server passes `Buffer.allocUnsafe`): every byte is written.
 */
export function encodeFrame(
  prefix: Uint8Array,
  payload: Uint8Array,
  allocate: (bytes: number) => Uint8Array = (bytes) => new Uint8Array(bytes),
): Uint8Array {
  const message = allocate(prefix.length + payload.length);
  message.set(prefix, 0);
  message.set(payload, prefix.length);
  return message;
}

/**
 * A frame's payload: a JPEG (`FF D8`), or a header whose first byte names what follows (never
 * `FF`) and whose second holds flags, then one or two times (f64, big-endian, microseconds on
 * camplex's clock, which keeps the camera's own timing), then the unit:
 * - `1` H.264, `2` H.265: `[type][flags][f64 pts]`, an Annex B access unit;
 * - `3` H.264, `4` H.265, for subscriptions that ask for decode times: `[type][flags][f64 pts]
 *   [f64 dts]`, an Annex B access unit;
 * - `16` AAC (raw, no ADTS), `17` Opus, `18` G.711 A-law, `19` mu-law: `[type][flags][f64 pts]`,
 *   one frame of the codec.
 * Flags: 1 key (every sound frame), 2 decode-only (a late joiner's catch-up: decode, do not show).
 */
export const VIDEO_HEADER_BYTES = 10;
export const TIMED_VIDEO_HEADER_BYTES = 18;
export const AUDIO_HEADER_BYTES = 10;
const VIDEO_TYPES: Record<'h264' | 'h265', number> = { h264: 1, h265: 2 };
const TIMED_VIDEO_TYPES: Record<'h264' | 'h265', number> = { h264: 3, h265: 4 };
const AUDIO_TYPES: Record<AudioFormat, number> = { aac: 16, opus: 17, pcma: 18, pcmu: 19 };
type PayloadType =
  | { kind: 'video'; codec: 'h264' | 'h265'; timed: boolean }
  | { kind: 'audio'; codec: AudioFormat };
/** What each type byte announces. */
const TYPES = new Map<number, PayloadType>([
  [1, { kind: 'video', codec: 'h264', timed: false }],
  [2, { kind: 'video', codec: 'h265', timed: false }],
  [3, { kind: 'video', codec: 'h264', timed: true }],
  [4, { kind: 'video', codec: 'h265', timed: true }],
  ...AUDIO_FORMATS.map((codec): [number, PayloadType] => [
    AUDIO_TYPES[codec],
    { kind: 'audio', codec },
  ]),
]);
export const VideoFlags = { KEY: 1, DECODE_ONLY: 2 } as const;

export interface VideoUnit {
  codec: 'h264' | 'h265';
  key: boolean;
  /** Sent to reach the current picture: decode it, do not show it. */
  decodeOnly: boolean;
  /** When the picture is shown: microseconds (the camera's timing on camplex's clock). */
  timestamp: number;
  /** When it is decoded (types 3 and 4; else equal to `timestamp`): differs with B-frames. */
  decodeTimestamp: number;
  /** The access unit in Annex B (a view, not a copy). */
  data: Uint8Array;
}

export interface AudioUnit {
  codec: AudioFormat;
  /** When it is heard: microseconds, on the same clock as its camera's pictures. */
  timestamp: number;
  /** One frame of the codec (a view, not a copy). */
  data: Uint8Array;
}

/** What a frame payload holds. */
export type Payload =
  | { kind: 'jpeg'; data: Uint8Array }
  | ({ kind: 'video' } & VideoUnit)
  | ({ kind: 'audio' } & AudioUnit);

/**
 * The header of a video payload, to go in front of the access unit: with `decodeTimestamp`
 * given, the timed layout (types 3 and 4), else the plain one (types 1 and 2).
 */
export function videoHeader(
  unit: Omit<VideoUnit, 'data' | 'decodeTimestamp'> & { decodeTimestamp?: number },
): Uint8Array {
  const header = new Uint8Array(
    unit.decodeTimestamp !== undefined ? TIMED_VIDEO_HEADER_BYTES : VIDEO_HEADER_BYTES,
  );
  writeVideoHeader(header, 0, unit);
  return header;
}

/** Writes `unit`'s video header into `target` at `at`; returns the offset after it. */
export function writeVideoHeader(
  target: Uint8Array,
  at: number,
  unit: Omit<VideoUnit, 'data' | 'decodeTimestamp'> & { decodeTimestamp?: number | undefined },
): number {
  const timed = unit.decodeTimestamp !== undefined;
  const bytes = timed ? TIMED_VIDEO_HEADER_BYTES : VIDEO_HEADER_BYTES;
  const view = new DataView(target.buffer, target.byteOffset + at, bytes);
  view.setUint8(0, (timed ? TIMED_VIDEO_TYPES : VIDEO_TYPES)[unit.codec]);
  view.setUint8(
    1,
    (unit.key ? VideoFlags.KEY : 0) | (unit.decodeOnly ? VideoFlags.DECODE_ONLY : 0),
  );
  view.setFloat64(2, unit.timestamp);
  if (unit.decodeTimestamp !== undefined) view.setFloat64(10, unit.decodeTimestamp);
  return at + bytes;
}

/** The header of a sound payload, to go in front of the frame. */
export function audioHeader(unit: Omit<AudioUnit, 'data'>): Uint8Array {
  const header = new Uint8Array(AUDIO_HEADER_BYTES);
  writeAudioHeader(header, 0, unit);
  return header;
}

/** Writes `unit`'s sound header into `target` at `at`; returns the offset after it. */
export function writeAudioHeader(
  target: Uint8Array,
  at: number,
  unit: Omit<AudioUnit, 'data'>,
): number {
  const view = new DataView(target.buffer, target.byteOffset + at, AUDIO_HEADER_BYTES);
  view.setUint8(0, AUDIO_TYPES[unit.codec]);
  view.setUint8(1, VideoFlags.KEY);
  view.setFloat64(2, unit.timestamp);
  return at + AUDIO_HEADER_BYTES;
}

/** Reads a frame payload: a JPEG, video or sound; an unknown type or short header throws. */
export function decodePayload(payload: Uint8Array): Payload {
  const type = payload[0];
  if (type === 0xff) return { kind: 'jpeg', data: payload }; // FF D8: a JPEG
  const known = type === undefined ? undefined : TYPES.get(type);
  const headerBytes =
    known?.kind === 'video' && known.timed ? TIMED_VIDEO_HEADER_BYTES : VIDEO_HEADER_BYTES;
  if (known === undefined || payload.length < headerBytes) {
    throw new CamplexError(ErrorCodes.BAD_MESSAGE, `unknown or short frame payload (type ${type})`);
  }
  const view = new DataView(payload.buffer, payload.byteOffset, headerBytes);
  const timestamp = view.getFloat64(2);
  const data = payload.subarray(headerBytes);
  if (known.kind === 'audio') return { kind: 'audio', codec: known.codec, timestamp, data };
  const flags = view.getUint8(1);
  return {
    kind: 'video',
    codec: known.codec,
    key: (flags & VideoFlags.KEY) !== 0,
    decodeOnly: (flags & VideoFlags.DECODE_ONLY) !== 0,
    timestamp,
    decodeTimestamp: known.timed ? view.getFloat64(10) : timestamp,
    data,
  };
}

/** A frame payload read as video, or undefined when it is a JPEG (sound throws). */
export function decodeVideo(payload: Uint8Array): VideoUnit | undefined {
  const read = decodePayload(payload);
  if (read.kind === 'jpeg') return undefined;
  if (read.kind === 'audio') {
    throw new CamplexError(ErrorCodes.BAD_MESSAGE, `not a video payload (type ${payload[0]})`);
  }
  const { kind: _kind, ...unit } = read;
  return unit;
}

/**
 * Builds one frame message in the extended layout:
 * `[1 byte n][n bytes id][1 byte h = 12][u32 BE sequence][f64 BE time, ms since epoch][payload]`.
 */
export function encodeExtendedFrame(
  prefix: Uint8Array,
  seq: number,
  sentAt: number,
  payload: Uint8Array,
): Uint8Array {
  const message = new Uint8Array(prefix.length + EXTENDED_HEAD_BYTES + payload.length);
  message.set(prefix, 0);
  message.set(payload, writeExtendedHead(message, prefix.length, seq, sentAt));
  return message;
}

/** Writes the extended layout's head (after the id) into `target` at `at`; returns the end. */
export function writeExtendedHead(
  target: Uint8Array,
  at: number,
  seq: number,
  sentAt: number,
): number {
  const view = new DataView(target.buffer, target.byteOffset + at, EXTENDED_HEAD_BYTES);
  view.setUint8(0, EXTENDED_HEADER_BYTES);
  view.setUint32(1, seq >>> 0);
  view.setFloat64(5, sentAt);
  return at + EXTENDED_HEAD_BYTES;
}

/** Splits an extended-layout frame message; the payload is a view, not a copy. */
export function decodeExtendedFrame(message: Uint8Array): {
  camera: string;
  seq: number;
  sentAt: number;
  payload: Uint8Array;
} {
  const { camera, payload: rest } = decodeFrame(message);
  const headerBytes = rest[0];
  if (
    headerBytes === undefined ||
    headerBytes < EXTENDED_HEADER_BYTES ||
    rest.length < 1 + headerBytes
  ) {
    throw new CamplexError(ErrorCodes.BAD_MESSAGE, 'extended frame header too short');
  }
  const view = new DataView(rest.buffer, rest.byteOffset + 1, EXTENDED_HEADER_BYTES);
  return {
    camera,
    seq: view.getUint32(0),
    sentAt: view.getFloat64(4),
    payload: rest.subarray(1 + headerBytes),
  };
}

/** Splits a binary frame message into camera id and payload (a view, not a copy). */
export function decodeFrame(message: Uint8Array): { camera: string; payload: Uint8Array } {
  const idLength = message[0];
  if (idLength === undefined || idLength === 0 || message.length < 1 + idLength) {
    throw new CamplexError(ErrorCodes.BAD_MESSAGE, 'binary frame too short for its camera id');
  }
  let camera: string;
  try {
    camera = decoder.decode(message.subarray(1, 1 + idLength));
  } catch {
    throw new CamplexError(ErrorCodes.BAD_MESSAGE, 'camera id in binary frame is not UTF-8');
  }
  return { camera, payload: message.subarray(1 + idLength) };
}

/**
 * A batch: several frame messages in one binary WebSocket message, for a client that asked
 * (`batch`): a first byte 0 (never a frame's id length), then each frame message (what would
 * have been its own binary message) behind its length, a 32-bit big-endian integer.
 */
export function encodeBatch(
  messages: readonly Uint8Array[],
  allocate?: (bytes: number) => Uint8Array,
): Uint8Array {
  const batch = lengthPrefixed(messages, 1, allocate);
  batch[0] = 0;
  return batch;
}

/** Whether a binary message is a batch (else it is one frame message). */
export function isBatch(message: Uint8Array): boolean {
  return message[0] === 0;
}

/** The frame messages of a batch, as views into it. */
export function decodeBatch(batch: Uint8Array): Uint8Array[] {
  if (batch[0] !== 0) throw new CamplexError(ErrorCodes.BAD_MESSAGE, 'not a batch');
  const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
  const messages: Uint8Array[] = [];
  let at = 1;
  while (at < batch.length) {
    if (at + 4 > batch.length) {
      throw new CamplexError(ErrorCodes.BAD_MESSAGE, 'batch cut inside a length');
    }
    const length = view.getUint32(at);
    if (length === 0 || at + 4 + length > batch.length) {
      throw new CamplexError(ErrorCodes.BAD_MESSAGE, 'batch entry longer than the batch');
    }
    messages.push(batch.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return messages;
}

/** Serialises a server control message (always one JSON text message). */
export function encodeServerMessage(message: ServerMessage): string {
  return JSON.stringify(message);
}

/** Parses a server control message; throws on anything that is not one. */
export function decodeServerMessage(text: string): ServerMessage {
  const value: unknown = JSON.parse(text);
  if (!isRecord(value) || typeof value.type !== 'string') {
    throw new CamplexError(ErrorCodes.BAD_MESSAGE, 'server message without a type');
  }
  return value as ServerMessage;
}

/**
 * Parses and validates one client control message. Throws a CamplexError whose code and
 * message are safe to send back to that client.
 */
export function decodeClientCommand(
  text: string,
  maxCameras = MAX_CAMERAS_PER_COMMAND,
): ClientCommand {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CamplexError(ErrorCodes.BAD_JSON, 'control message is not valid JSON');
  }
  if (!isRecord(value)) {
    throw new CamplexError(ErrorCodes.BAD_MESSAGE, 'control message must be a JSON object');
  }
  const { cmd, cameras } = value;
  if (typeof cmd !== 'string') {
    throw new CamplexError(
      ErrorCodes.BAD_MESSAGE,
      `control message needs "cmd": "subscribe", "unsubscribe", "ack", "batch" or "ptz"`,
    );
  }
  if (cmd === 'ptz') return decodePtzCommand(value);
  if (cmd === 'ack') {
    const { bytes } = value;
    if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) {
      throw new CamplexError(
        ErrorCodes.BAD_MESSAGE,
        '"ack" needs "bytes": the bytes of frame messages received, a whole number >= 0',
      );
    }
    return { cmd, bytes };
  }
  if (cmd === 'batch') {
    const { maxDelayMs } = value;
    if (
      typeof maxDelayMs !== 'number' ||
      !Number.isInteger(maxDelayMs) ||
      maxDelayMs < 0 ||
      maxDelayMs > MAX_BATCH_DELAY_MS
    ) {
      throw new CamplexError(
        ErrorCodes.BAD_MESSAGE,
        `"batch" needs "maxDelayMs": a whole number of ms from 0 to ${MAX_BATCH_DELAY_MS}`,
      );
    }
    return { cmd, maxDelayMs };
  }
  if (cmd !== 'subscribe' && cmd !== 'unsubscribe') {
    throw new CamplexError(
      ErrorCodes.UNKNOWN_COMMAND,
      `unknown command ${JSON.stringify(clip(cmd, CLIPPED_CHARS))}: expected "subscribe", "unsubscribe", "ack", "batch" or "ptz"`,
    );
  }
  if (!Array.isArray(cameras) || !cameras.every((id) => typeof id === 'string')) {
    throw new CamplexError(
      ErrorCodes.BAD_MESSAGE,
      `"${cmd}" needs "cameras": an array of camera id strings`,
    );
  }
  if (cameras.length > maxCameras) {
    throw new CamplexError(
      ErrorCodes.TOO_MANY_CAMERAS,
      `"${cmd}" names ${cameras.length} cameras; at most ${maxCameras} per message`,
    );
  }
  const unique = [...new Set(cameras as string[])];
  if (cmd === 'unsubscribe') return { cmd, cameras: unique };
  const { formats, decodeTimes } = value;
  if (decodeTimes !== undefined && typeof decodeTimes !== 'boolean') {
    throw new CamplexError(ErrorCodes.BAD_MESSAGE, '"decodeTimes" must be true or false');
  }
  const times = decodeTimes === true ? { decodeTimes } : {};
  if (formats === undefined) return { cmd, cameras: unique, ...times };
  if (
    !Array.isArray(formats) ||
    formats.length === 0 ||
    formats.length > MEDIA_FORMATS.length ||
    !formats.every((format) => MEDIA_FORMATS.includes(format as MediaFormat))
  ) {
    throw new CamplexError(
      ErrorCodes.BAD_MESSAGE,
      `"formats" must list what the client decodes, of ${MEDIA_FORMATS.map((f) => `"${f}"`).join(', ')}`,
    );
  }
  return { cmd, cameras: unique, formats: [...new Set(formats as MediaFormat[])], ...times };
}

function decodePtzCommand(value: Record<string, unknown>): PtzCommand {
  const { camera, action } = value;
  const bad = (message: string) => new CamplexError(ErrorCodes.BAD_MESSAGE, message);
  if (typeof camera !== 'string' || camera.length === 0 || camera.length > CLIPPED_CHARS) {
    throw bad('"ptz" needs "camera": a camera id');
  }
  if (typeof action !== 'string' || !PTZ_ACTIONS.includes(action)) {
    throw bad('"ptz" needs "action": "move", "zoom", "stop" or "preset"');
  }
  const speed = (name: string): number => {
    const speed = value[name];
    if (typeof speed !== 'number' || !Number.isFinite(speed) || speed < -1 || speed > 1) {
      throw bad(`"ptz" "${action}" needs "${name}": a speed from -1 to 1`);
    }
    return speed;
  };
  switch (action) {
    case 'move':
      return { cmd: 'ptz', camera, action, pan: speed('pan'), tilt: speed('tilt') };
    case 'zoom':
      return { cmd: 'ptz', camera, action, zoom: speed('zoom') };
    case 'stop':
      return { cmd: 'ptz', camera, action };
    default: {
      const { preset } = value;
      // ONVIF tokens are short names (ReferenceToken: at most 64 characters).
      if (typeof preset !== 'string' || preset.length === 0 || preset.length > 64) {
        throw bad('"ptz" "preset" needs "preset": a preset token of 1-64 characters');
      }
      return { cmd: 'ptz', camera, action: 'preset', preset };
    }
  }
}

/** Encodes a client control message. */
export function encodeClientCommand(command: ClientCommand): string {
  return JSON.stringify(command);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
