import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  audioFrameVectors,
  batchVectors,
  clientCommandVectors,
  extendedFrameVectors,
  frameVectors,
  fromHex,
  invalidBatchVectors,
  invalidClientMessageVectors,
  invalidFrameVectors,
  invalidVideoVectors,
  LONGEST_CAMERA_ID,
  serverMessageVectors,
  timedVideoFrameVectors,
  toHex,
  videoFrameVectors,
} from '../../test/fixtures/protocol-vectors.js';
import { CamplexError, ErrorCodes } from '../common/errors.js';
import {
  AUDIO_HEADER_BYTES,
  audioHeader,
  CAMERA_ID_PATTERN,
  decodeBatch,
  decodeClientCommand,
  decodeExtendedFrame,
  decodeFrame,
  decodePayload,
  decodeServerMessage,
  decodeVideo,
  encodeBatch,
  encodeClientCommand,
  encodeExtendedFrame,
  encodeFrame,
  encodeServerMessage,
  framePrefix,
  isBatch,
  MAX_CAMERAS_PER_COMMAND,
  TIMED_VIDEO_HEADER_BYTES,
  VIDEO_HEADER_BYTES,
  videoHeader,
} from './wire.js';

/** Asserts that `fn` throws a CamplexError with this code (and message, when given). */
function assertCamplexError(fn: () => unknown, code: string, message?: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CamplexError, `expected a CamplexError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (message !== undefined) assert.equal(error.message, message);
    return true;
  });
}

describe('test vectors', () => {
  it('use camera ids that the id rules accept', () => {
    for (const vector of frameVectors) assert.match(vector.camera, CAMERA_ID_PATTERN);
    assert.equal(new TextEncoder().encode(LONGEST_CAMERA_ID).length, 64);
  });

  it('round-trip through the hex helpers', () => {
    for (const vector of frameVectors) assert.equal(toHex(fromHex(vector.hex)), vector.hex);
    assert.deepEqual([...fromHex('01 ff\nA0')], [0x01, 0xff, 0xa0]);
    assert.throws(() => fromHex('abc'), TypeError);
  });
});

describe('binary frames', () => {
  for (const vector of frameVectors) {
    it(`encodes ${vector.name} to the exact bytes`, () => {
      const prefix = framePrefix(vector.camera);
      assert.equal(prefix[0], vector.camera.length);
      const message = encodeFrame(prefix, Uint8Array.from(vector.payload));
      assert.equal(toHex(message), vector.hex);
    });

    it(`decodes ${vector.name} to its camera id and payload`, () => {
      const { camera, payload } = decodeFrame(fromHex(vector.hex));
      assert.equal(camera, vector.camera);
      assert.deepEqual([...payload], vector.payload);
    });
  }

  for (const vector of invalidFrameVectors) {
    it(`rejects ${vector.name} with ${vector.code}`, () => {
      assertCamplexError(() => decodeFrame(fromHex(vector.hex)), vector.code, vector.message);
    });
  }

  it('rejects a zero-length camera id with CAMPLEX_ERR_BAD_MESSAGE', () => {
    assertCamplexError(() => decodeFrame(Uint8Array.of(0, 0xff, 0xd8)), ErrorCodes.BAD_MESSAGE);
  });

  it('rejects a message shorter than its id length with CAMPLEX_ERR_BAD_MESSAGE', () => {
    const message = Uint8Array.of(4, 0x61, 0x62, 0x63);
    assertCamplexError(() => decodeFrame(message), ErrorCodes.BAD_MESSAGE);
    // One byte more and the same bytes are a valid frame with an empty payload.
    assert.equal(decodeFrame(Uint8Array.of(3, 0x61, 0x62, 0x63)).payload.length, 0);
  });

  it('returns the payload as a view into the message, not a copy', () => {
    const message = fromHex(frameVectors[1]!.hex);
    const { payload } = decodeFrame(message);
    assert.equal(payload.buffer, message.buffer);
    assert.equal(payload.byteOffset, 6);
  });

  it('copies the payload when encoding, so the caller may reuse its buffer', () => {
    const payload = Uint8Array.of(0xff, 0xd8, 0xff, 0xd9);
    const message = encodeFrame(framePrefix('a'), payload);
    payload.fill(0);
    assert.equal(toHex(message), '0161ffd8ffd9');
  });

  const invalidIds: [string, string][] = [
    ['an empty id', ''],
    ['a 65-byte id', `${LONGEST_CAMERA_ID}x`],
    ['a path', '../x'],
    ['an id with a space', 'a b'],
    ['a non-ASCII id', 'caméra'],
    ['an id with a slash', 'front/door'],
  ];
  for (const [name, id] of invalidIds) {
    it(`framePrefix throws a TypeError for ${name}`, () => {
      assert.throws(() => framePrefix(id), TypeError);
    });
  }
});

describe('batches', () => {
  for (const vector of batchVectors) {
    it(`encodes and decodes ${vector.name}`, () => {
      const messages = vector.messages.map(fromHex);
      assert.equal(toHex(encodeBatch(messages)), vector.hex);
      const batch = fromHex(vector.hex);
      assert.ok(isBatch(batch));
      assert.deepEqual(decodeBatch(batch).map(toHex), vector.messages);
    });
  }
  for (const vector of invalidBatchVectors) {
    it(`refuses ${vector.name} with CAMPLEX_ERR_BAD_MESSAGE`, () => {
      assertCamplexError(() => decodeBatch(fromHex(vector.hex)), 'CAMPLEX_ERR_BAD_MESSAGE');
    });
  }
  it('is never mistaken for a frame message, whose first byte is an id length of 1 to 64', () => {
    for (const vector of frameVectors) assert.equal(isBatch(fromHex(vector.hex)), false);
  });
});

describe('client commands', () => {
  for (const vector of clientCommandVectors) {
    it(`decodes ${vector.name}`, () => {
      assert.deepEqual(decodeClientCommand(vector.text), vector.command);
    });
  }

  for (const vector of invalidClientMessageVectors) {
    it(`refuses ${vector.name} with ${vector.code} and a clear message`, () => {
      assertCamplexError(() => decodeClientCommand(vector.text), vector.code, vector.message);
    });
  }

  it('accepts exactly MAX_CAMERAS_PER_COMMAND ids', () => {
    const cameras = Array.from({ length: MAX_CAMERAS_PER_COMMAND }, (_, i) => `cam-${i}`);
    const text = JSON.stringify({ cmd: 'subscribe', cameras });
    const command = decodeClientCommand(text);
    assert.equal(command.cmd === 'subscribe' && command.cameras.length, MAX_CAMERAS_PER_COMMAND);
  });

  it('encodes a command that decodes back to itself', () => {
    for (const vector of clientCommandVectors) {
      assert.deepEqual(decodeClientCommand(encodeClientCommand(vector.command)), vector.command);
    }
  });
});

describe('server messages', () => {
  for (const vector of serverMessageVectors) {
    it(`encodes ${vector.name} to the exact JSON text`, () => {
      assert.equal(encodeServerMessage(vector.message), vector.json);
    });

    it(`decodes ${vector.name} from its JSON text`, () => {
      assert.deepEqual(decodeServerMessage(vector.json), vector.message);
    });
  }

  it('rejects a server message without a type with CAMPLEX_ERR_BAD_MESSAGE', () => {
    for (const text of ['{}', '[]', 'null', '{"type":1}']) {
      assertCamplexError(() => decodeServerMessage(text), ErrorCodes.BAD_MESSAGE);
    }
  });
});

describe('extended frame layout', () => {
  for (const vector of extendedFrameVectors) {
    it(`encodes and decodes ${vector.name}`, () => {
      const encoded = encodeExtendedFrame(
        framePrefix(vector.camera),
        vector.seq,
        vector.sentAt,
        new Uint8Array(vector.payload),
      );
      assert.equal(toHex(encoded), vector.hex);
      const decoded = decodeExtendedFrame(fromHex(vector.hex));
      assert.equal(decoded.camera, vector.camera);
      assert.equal(decoded.seq, vector.seq);
      assert.equal(decoded.sentAt, vector.sentAt);
      assert.equal(toHex(decoded.payload), toHex(vector.payload));
    });
  }

  it('rejects a message whose extended header is cut short', () => {
    assert.throws(() => decodeExtendedFrame(fromHex('01610c0000')), {
      code: 'CAMPLEX_ERR_BAD_MESSAGE',
      message: 'extended frame header too short',
    });
  });
});

describe('video frames', () => {
  for (const vector of [...videoFrameVectors, ...timedVideoFrameVectors]) {
    it(`encodes ${vector.name} to the exact bytes`, () => {
      const header = videoHeader(vector);
      const timed = vector.decodeTimestamp !== undefined;
      assert.equal(header.length, timed ? TIMED_VIDEO_HEADER_BYTES : VIDEO_HEADER_BYTES);
      const payload = new Uint8Array([...header, ...vector.unit]);
      assert.equal(toHex(encodeFrame(framePrefix(vector.stream), payload)), vector.hex);
    });

    it(`decodes ${vector.name}`, () => {
      const { camera, payload } = decodeFrame(fromHex(vector.hex));
      assert.equal(camera, vector.stream);
      const { codec, key, decodeOnly, timestamp, unit } = vector;
      assert.deepEqual(decodeVideo(payload), {
        codec,
        key,
        decodeOnly,
        timestamp,
        decodeTimestamp: vector.decodeTimestamp ?? timestamp,
        data: Uint8Array.from(unit),
      });
    });
  }

  for (const vector of audioFrameVectors) {
    it(`encodes and decodes ${vector.name}`, () => {
      const header = audioHeader(vector);
      assert.equal(header.length, AUDIO_HEADER_BYTES);
      const payload = new Uint8Array([...header, ...vector.frame]);
      assert.equal(toHex(encodeFrame(framePrefix(vector.stream), payload)), vector.hex);
      const decoded = decodeFrame(fromHex(vector.hex));
      assert.equal(decoded.camera, vector.stream);
      assert.deepEqual(decodePayload(decoded.payload), {
        kind: 'audio',
        codec: vector.codec,
        timestamp: vector.timestamp,
        data: Uint8Array.from(vector.frame),
      });
      assert.throws(() => decodeVideo(decoded.payload), { code: 'CAMPLEX_ERR_BAD_MESSAGE' });
    });
  }

  it('tells a JPEG payload from video by its first byte', () => {
    for (const vector of frameVectors) {
      if (vector.payload.length > 0)
        assert.equal(decodeVideo(Uint8Array.from(vector.payload)), undefined);
    }
  });

  for (const vector of invalidVideoVectors) {
    it(`refuses ${vector.name}`, () => {
      assertCamplexError(
        () => decodeVideo(fromHex(vector.payloadHex)),
        vector.code,
        vector.message,
      );
    });
  }

  it('names streams by camera id or <id>@sub, nothing else', () => {
    assert.equal(framePrefix('front@sub').length, 10);
    for (const bad of ['front@main', '@sub', 'a@sub@sub', 'front@'])
      assert.throws(() => framePrefix(bad), TypeError);
  });

  it('reads the formats a subscribe names, and refuses unknown ones', () => {
    assert.deepEqual(
      decodeClientCommand('{"cmd":"subscribe","cameras":["a"],"formats":["h264","jpeg","h264"]}'),
      {
        cmd: 'subscribe',
        cameras: ['a'],
        formats: ['h264', 'jpeg'],
      },
    );
    assert.deepEqual(decodeClientCommand('{"cmd":"subscribe","cameras":["a"]}'), {
      cmd: 'subscribe',
      cameras: ['a'],
    });
    assert.deepEqual(
      decodeClientCommand(
        '{"cmd":"subscribe","cameras":["a"],"formats":["h264","opus","pcmu"],"decodeTimes":false}',
      ),
      { cmd: 'subscribe', cameras: ['a'], formats: ['h264', 'opus', 'pcmu'] },
    );
    for (const formats of ['[]', '["vp9"]', '"h264"', '[1]', '["g726"]']) {
      assertCamplexError(
        () => decodeClientCommand(`{"cmd":"subscribe","cameras":["a"],"formats":${formats}}`),
        ErrorCodes.BAD_MESSAGE,
      );
    }
  });
});
