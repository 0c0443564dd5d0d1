/**
 * Test vectors of the camplex wire protocol, shared by the server and the browser tests and
 * rendered in docs/PROTOCOL.md. Pure data (plus two hex helpers): no I/O and no node: imports,
 * so the browser bundle can use it too. A vector that has to change is a protocol change.
 */
import type { ErrorCode } from './errors.js';
import type { ClientCommand, ServerMessage } from './wire.js';

/** One binary frame message: `[1 byte: id length n][n bytes: camera id][payload]`. */
export interface FrameVector {
  name: string;
  camera: string;
  payload: readonly number[];
  /** The whole encoded message, lowercase hex without separators. */
  hex: string;
}

/** A binary message a client must reject when decoding. */
export interface InvalidFrameVector {
  name: string;
  hex: string;
  code: ErrorCode;
  message: string;
}

/** A valid client control message and the command it decodes to. */
export interface ClientCommandVector {
  name: string;
  text: string;
  command: ClientCommand;
}

/** A client control message the server refuses, with the error it answers. */
export interface InvalidClientMessageVector {
  name: string;
  text: string;
  code: ErrorCode;
  message: string;
}

/** A server control message and its exact JSON text. */
export interface ServerMessageVector {
  name: string;
  message: ServerMessage;
  json: string;
}

/** A camera id of the maximum length, 64 bytes. */
export const LONGEST_CAMERA_ID = 'cam_012345678901234567890123456789012345678901234567890123456789';

export const frameVectors: readonly FrameVector[] = [
  {
    name: 'a 1-byte camera id',
    camera: 'a',
    payload: [0xff, 0xd8, 0xff, 0xd9],
    hex: '0161ffd8ffd9',
  },
  {
    name: 'a typical camera id and a small JPEG',
    camera: 'front',
    payload: [0xff, 0xd8, 0xff, 0xfe, 0x00, 0x04, 0x68, 0x69, 0xff, 0xd9],
    hex: '0566726f6e74ffd8fffe00046869ffd9',
  },
  {
    name: 'a 64-byte camera id',
    camera: LONGEST_CAMERA_ID,
    payload: [0xff, 0xd8, 0xff, 0xd9],
    hex:
      '40' +
      '63616d5f30313233343536373839303132333435363738393031323334353637' +
      '38393031323334353637383930313233343536373839303132333435363738' +
      '39' +
      'ffd8ffd9',
  },
  {
    name: 'a camera id with ".", "_" and "-"',
    camera: 'yard.cam_2-east',
    payload: [0xff, 0xd8, 0xff, 0xd9],
    hex: '0f796172642e63616d5f322d65617374ffd8ffd9',
  },
  {
    name: 'an empty payload',
    camera: 'garage',
    payload: [],
    hex: '06676172616765',
  },
];

/** One binary frame message in the extended layout (subprotocol `camplex.v1.extended`). */
export interface ExtendedFrameVector {
  name: string;
  camera: string;
  seq: number;
  /** Milliseconds since the Unix epoch, as a float64. */
  sentAt: number;
  payload: readonly number[];
  hex: string;
}

export const extendedFrameVectors: readonly ExtendedFrameVector[] = [
  {
    name: 'a frame with a fractional millisecond time',
    camera: 'front',
    seq: 7,
    sentAt: 1795857000123.25,
    payload: [0xff, 0xd8, 0xff, 0xd9],
    // 05 "front" | 0c (12 header bytes) | 00000007 | 427a2216b26bb400 | JPEG
    hex: '0566726f6e74' + '0c' + '00000007' + '427a2216b26bb400' + 'ffd8ffd9',
  },
  {
    name: 'the largest sequence number and time zero, empty payload',
    camera: 'a',
    seq: 4294967295,
    sentAt: 0,
    payload: [],
    hex: '0161' + '0c' + 'ffffffff' + '0000000000000000',
  },
];

export const invalidFrameVectors: readonly InvalidFrameVector[] = [
  {
    name: 'an empty message',
    hex: '',
    code: 'CAMPLEX_ERR_BAD_MESSAGE',
    message: 'binary frame too short for its camera id',
  },
  {
    name: 'a zero-length camera id',
    hex: '00ffd8ffd9',
    code: 'CAMPLEX_ERR_BAD_MESSAGE',
    message: 'binary frame too short for its camera id',
  },
  {
    name: 'a message shorter than its id length',
    hex: '05666f6f',
    code: 'CAMPLEX_ERR_BAD_MESSAGE',
    message: 'binary frame too short for its camera id',
  },
  {
    name: 'a camera id that is not UTF-8',
    hex: '02c328ffd8ffd9',
    code: 'CAMPLEX_ERR_BAD_MESSAGE',
    message: 'camera id in binary frame is not UTF-8',
  },
];

export const clientCommandVectors: readonly ClientCommandVector[] = [
  {
    name: 'subscribe to two cameras',
    text: '{"cmd":"subscribe","cameras":["front","garage"]}',
    command: { cmd: 'subscribe', cameras: ['front', 'garage'] },
  },
  {
    name: 'unsubscribe from one camera',
    text: '{"cmd":"unsubscribe","cameras":["front"]}',
    command: { cmd: 'unsubscribe', cameras: ['front'] },
  },
  {
    name: 'duplicate ids are de-duplicated, first occurrence kept',
    text: '{"cmd":"subscribe","cameras":["garage","front","garage","front"]}',
    command: { cmd: 'subscribe', cameras: ['garage', 'front'] },
  },
  {
    name: 'an empty camera list',
    text: '{"cmd":"subscribe","cameras":[]}',
    command: { cmd: 'subscribe', cameras: [] },
  },
  {
    name: 'unknown fields are ignored',
    text: '{"cmd":"subscribe","cameras":["front"],"since":3,"extra":{"a":1}}',
    command: { cmd: 'subscribe', cameras: ['front'] },
  },
  {
    name: 'whitespace around and inside the JSON',
    text: ' {\n  "cameras": [ "yard.cam_2-east" ],\n  "cmd": "unsubscribe"\n}\n',
    command: { cmd: 'unsubscribe', cameras: ['yard.cam_2-east'] },
  },
  {
    name: 'the ack that turns flow control on',
    text: '{"cmd":"ack","bytes":0}',
    command: { cmd: 'ack', bytes: 0 },
  },
  {
    name: 'an ack of 1234567 bytes',
    text: '{"cmd":"ack","bytes":1234567}',
    command: { cmd: 'ack', bytes: 1234567 },
  },
];

/** Ids are looked up, not validated: an id that cannot exist is simply an unknown camera. */
const TOO_MANY_IDS = Array.from({ length: 1025 }, (_, i) => `cam-${i}`);

export const invalidClientMessageVectors: readonly InvalidClientMessageVector[] = [
  {
    name: 'malformed JSON',
    text: '{"cmd":"subscribe",',
    code: 'CAMPLEX_ERR_BAD_JSON',
    message: 'control message is not valid JSON',
  },
  {
    name: 'an empty message',
    text: '',
    code: 'CAMPLEX_ERR_BAD_JSON',
    message: 'control message is not valid JSON',
  },
  {
    name: 'a JSON array',
    text: '["subscribe",["front"]]',
    code: 'CAMPLEX_ERR_BAD_MESSAGE',
    message: 'control message must be a JSON object',
  },
  {
    name: 'a JSON number',
    text: '42',
    code: 'CAMPLEX_ERR_BAD_MESSAGE',
    message: 'control message must be a JSON object',
  },
  {
    name: 'JSON null',
    text: 'null',
    code: 'CAMPLEX_ERR_BAD_MESSAGE',
    message: 'control message must be a JSON object',
  },
  {
    name: 'a missing cmd',
    text: '{"cameras":["front"]}',
    code: 'CAMPLEX_ERR_BAD_MESSAGE',
    message: 'control message needs "cmd": "subscribe", "unsubscribe" or "ack"',
  },
  {
    name: 'a cmd that is not a string',
    text: '{"cmd":1,"cameras":["front"]}',
    code: 'CAMPLEX_ERR_BAD_MESSAGE',
    message: 'control message needs "cmd": "subscribe", "unsubscribe" or "ack"',
  },
  {
    name: 'an unknown cmd',
    text: '{"cmd":"play","cameras":["front"]}',
    code: 'CAMPLEX_ERR_UNKNOWN_COMMAND',
    message: 'unknown command "play": expected "subscribe", "unsubscribe" or "ack"',
  },
  {
    name: 'a cmd in the wrong case',
    text: '{"cmd":"Subscribe","cameras":["front"]}',
    code: 'CAMPLEX_ERR_UNKNOWN_COMMAND',
    message: 'unknown command "Subscribe": expected "subscribe", "unsubscribe" or "ack"',
  },
  {
    name: 'a long unknown cmd, clipped to 64 characters in the reply',
    text: `{"cmd":"${'x'.repeat(100)}"}`,
    code: 'CAMPLEX_ERR_UNKNOWN_COMMAND',
    message: `unknown command "${'x'.repeat(64)}...": expected "subscribe", "unsubscribe" or "ack"`,
  },
  {
    name: 'missing cameras',
    text: '{"cmd":"subscribe"}',
    code: 'CAMPLEX_ERR_BAD_MESSAGE',
    message: '"subscribe" needs "cameras": an array of camera id strings',
  },
  {
    name: 'cameras not an array',
    text: '{"cmd":"subscribe","cameras":"front"}',
    code: 'CAMPLEX_ERR_BAD_MESSAGE',
    message: '"subscribe" needs "cameras": an array of camera id strings',
  },
  {
    name: 'cameras with a non-string',
    text: '{"cmd":"unsubscribe","cameras":["front",7]}',
    code: 'CAMPLEX_ERR_BAD_MESSAGE',
    message: '"unsubscribe" needs "cameras": an array of camera id strings',
  },
  {
    name: 'an ack without bytes',
    text: '{"cmd":"ack"}',
    code: 'CAMPLEX_ERR_BAD_MESSAGE',
    message: '"ack" needs "bytes": the bytes of frame messages received, a whole number >= 0',
  },
  {
    name: 'an ack of negative bytes',
    text: '{"cmd":"ack","bytes":-1}',
    code: 'CAMPLEX_ERR_BAD_MESSAGE',
    message: '"ack" needs "bytes": the bytes of frame messages received, a whole number >= 0',
  },
  {
    name: 'an ack of fractional bytes',
    text: '{"cmd":"ack","bytes":1.5}',
    code: 'CAMPLEX_ERR_BAD_MESSAGE',
    message: '"ack" needs "bytes": the bytes of frame messages received, a whole number >= 0',
  },
  {
    name: 'an ack with bytes as a string',
    text: '{"cmd":"ack","bytes":"7"}',
    code: 'CAMPLEX_ERR_BAD_MESSAGE',
    message: '"ack" needs "bytes": the bytes of frame messages received, a whole number >= 0',
  },
  {
    name: 'more than MAX_CAMERAS_PER_COMMAND (1024) ids',
    text: JSON.stringify({ cmd: 'subscribe', cameras: TOO_MANY_IDS }),
    code: 'CAMPLEX_ERR_TOO_MANY_CAMERAS',
    message: '"subscribe" names 1025 cameras; at most 1024 per message',
  },
];

export const serverMessageVectors: readonly ServerMessageVector[] = [
  {
    name: 'hello',
    message: {
      type: 'hello',
      protocol: 1,
      cameras: [
        { id: 'front', name: 'Front door', state: 'live' },
        {
          id: 'garage',
          name: 'Garage',
          state: 'retrying',
          reason: 'Connection to <url> failed: Connection refused',
          attempt: 2,
          retryInMs: 1500,
        },
        { id: 'yard.cam_2-east', name: 'Yard (east)', state: 'idle' },
      ],
    },
    json:
      '{"type":"hello","protocol":1,"cameras":[' +
      '{"id":"front","name":"Front door","state":"live"},' +
      '{"id":"garage","name":"Garage","state":"retrying",' +
      '"reason":"Connection to <url> failed: Connection refused","attempt":2,"retryInMs":1500},' +
      '{"id":"yard.cam_2-east","name":"Yard (east)","state":"idle"}]}',
  },
  {
    name: 'state starting',
    message: { type: 'state', id: 'garage', name: 'Garage', state: 'starting' },
    json: '{"type":"state","id":"garage","name":"Garage","state":"starting"}',
  },
  {
    name: 'state live',
    message: { type: 'state', id: 'front', name: 'Front door', state: 'live' },
    json: '{"type":"state","id":"front","name":"Front door","state":"live"}',
  },
  {
    name: 'state retrying with reason, attempt and retryInMs',
    message: {
      type: 'state',
      id: 'garage',
      name: 'Garage',
      state: 'retrying',
      reason: 'no frame for 5 s (stalled)',
      attempt: 3,
      retryInMs: 1742,
    },
    json:
      '{"type":"state","id":"garage","name":"Garage","state":"retrying",' +
      '"reason":"no frame for 5 s (stalled)","attempt":3,"retryInMs":1742}',
  },
  {
    name: 'state idle',
    message: { type: 'state', id: 'garage', name: 'Garage', state: 'idle' },
    json: '{"type":"state","id":"garage","name":"Garage","state":"idle"}',
  },
  {
    name: 'subscribed',
    message: { type: 'subscribed', cameras: ['front', 'garage'] },
    json: '{"type":"subscribed","cameras":["front","garage"]}',
  },
  {
    name: 'unsubscribed',
    message: { type: 'unsubscribed', cameras: ['front'] },
    json: '{"type":"unsubscribed","cameras":["front"]}',
  },
  {
    name: 'error for an unknown camera, naming it',
    message: {
      type: 'error',
      code: 'CAMPLEX_ERR_UNKNOWN_CAMERA',
      message: 'unknown camera "porch"',
      cameras: ['porch'],
    },
    json:
      '{"type":"error","code":"CAMPLEX_ERR_UNKNOWN_CAMERA",' +
      '"message":"unknown camera \\"porch\\"","cameras":["porch"]}',
  },
  {
    name: 'error for malformed JSON',
    message: {
      type: 'error',
      code: 'CAMPLEX_ERR_BAD_JSON',
      message: 'control message is not valid JSON',
    },
    json:
      '{"type":"error","code":"CAMPLEX_ERR_BAD_JSON",' +
      '"message":"control message is not valid JSON"}',
  },
];

/** Lowercase hex of `bytes`, no separators. */
export function toHex(bytes: Uint8Array | readonly number[]): string {
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

/** Bytes of a hex string (whitespace allowed between bytes). */
export function fromHex(hex: string): Uint8Array {
  const digits = hex.replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(digits)) throw new TypeError(`not hex: ${hex}`);
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = Number.parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  }
  return bytes;
}
