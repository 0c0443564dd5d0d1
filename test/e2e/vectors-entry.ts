/**
 * Browser entry for the protocol test: runs the shared test vectors through the same codec the
 * dashboard bundle uses, inside Chromium, and reports mismatches.
 */
import { CamplexError } from '../../src/common/errors.js';
import {
  audioHeader,
  decodeBatch,
  decodeExtendedFrame,
  decodeFrame,
  decodePayload,
  decodeServerMessage,
  decodeVideo,
  encodeClientCommand,
  encodeFrame,
  framePrefix,
  videoHeader,
} from '../../src/protocol/wire.js';
import {
  audioFrameVectors,
  batchVectors,
  clientCommandVectors,
  extendedFrameVectors,
  frameVectors,
  fromHex,
  invalidFrameVectors,
  serverMessageVectors,
  timedVideoFrameVectors,
  toHex,
  videoFrameVectors,
} from '../fixtures/protocol-vectors.js';

function run(): string[] {
  const failures: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) failures.push(what);
  };
  for (const vector of frameVectors) {
    const { camera, payload } = decodeFrame(fromHex(vector.hex));
    check(camera === vector.camera, `decodeFrame camera: ${vector.name}`);
    check(toHex(payload) === toHex(vector.payload), `decodeFrame payload: ${vector.name}`);
    const encoded = encodeFrame(framePrefix(vector.camera), new Uint8Array(vector.payload));
    check(toHex(encoded) === vector.hex, `encodeFrame: ${vector.name}`);
  }
  for (const vector of batchVectors) {
    const messages = decodeBatch(fromHex(vector.hex)).map(toHex);
    check(messages.join() === vector.messages.join(), `decodeBatch: ${vector.name}`);
  }
  for (const vector of extendedFrameVectors) {
    const decoded = decodeExtendedFrame(fromHex(vector.hex));
    const same =
      decoded.camera === vector.camera &&
      decoded.seq === vector.seq &&
      decoded.sentAt === vector.sentAt &&
      toHex(decoded.payload) === toHex(vector.payload);
    check(same, `decodeExtendedFrame: ${vector.name}`);
  }
  for (const vector of [...videoFrameVectors, ...timedVideoFrameVectors]) {
    const { camera, payload } = decodeFrame(fromHex(vector.hex));
    const unit = decodeVideo(payload);
    const same =
      camera === vector.stream &&
      unit?.codec === vector.codec &&
      unit.key === vector.key &&
      unit.decodeOnly === vector.decodeOnly &&
      unit.timestamp === vector.timestamp &&
      unit.decodeTimestamp === (vector.decodeTimestamp ?? vector.timestamp) &&
      toHex(unit.data) === toHex(vector.unit);
    check(same, `decodeVideo: ${vector.name}`);
    const encoded = encodeFrame(
      framePrefix(vector.stream),
      new Uint8Array([...videoHeader(vector), ...vector.unit]),
    );
    check(toHex(encoded) === vector.hex, `video frame encoding: ${vector.name}`);
  }
  for (const vector of audioFrameVectors) {
    const { camera, payload } = decodeFrame(fromHex(vector.hex));
    const read = decodePayload(payload);
    const same =
      camera === vector.stream &&
      read.kind === 'audio' &&
      read.codec === vector.codec &&
      read.timestamp === vector.timestamp &&
      toHex(read.data) === toHex(vector.frame);
    check(same, `decodePayload: ${vector.name}`);
    const encoded = encodeFrame(
      framePrefix(vector.stream),
      new Uint8Array([...audioHeader(vector), ...vector.frame]),
    );
    check(toHex(encoded) === vector.hex, `sound frame encoding: ${vector.name}`);
  }
  for (const vector of invalidFrameVectors) {
    try {
      decodeFrame(fromHex(vector.hex));
      failures.push(`decodeFrame accepted: ${vector.name}`);
    } catch (error) {
      const ok =
        error instanceof CamplexError &&
        error.code === vector.code &&
        error.message === vector.message;
      check(ok, `decodeFrame error: ${vector.name}`);
    }
  }
  for (const vector of serverMessageVectors) {
    const decoded = decodeServerMessage(vector.json);
    check(
      JSON.stringify(decoded) === JSON.stringify(vector.message),
      `decodeServerMessage: ${vector.name}`,
    );
  }
  for (const vector of clientCommandVectors) {
    const text = encodeClientCommand(vector.command);
    check(
      JSON.stringify(JSON.parse(text)) === JSON.stringify(vector.command),
      `encodeClientCommand: ${vector.name}`,
    );
  }
  return failures;
}

(window as unknown as { camplexVectors: { run: typeof run } }).camplexVectors = { run };
