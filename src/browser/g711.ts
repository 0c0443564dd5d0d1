/**
 * G.711 to linear samples, by a 256-entry table per law (ITU-T G.711): what most IP cameras send
 * as sound, decoded in the page on every engine and page, secure or not. Pure.
 */

/** One A-law byte's sample, as a 16-bit value. */
function alawSample(byte: number): number {
  const a = byte ^ 0x55;
  const exponent = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  const magnitude =
    exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  return a & 0x80 ? magnitude : -magnitude;
}

/** One mu-law byte's sample, as a 16-bit value. */
function ulawSample(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  return u & 0x80 ? 0 - magnitude : magnitude;
}

const table = (sample: (byte: number) => number) =>
  Float32Array.from({ length: 256 }, (_, byte) => sample(byte) / 32768);

const ALAW = table(alawSample);
const ULAW = table(ulawSample);

/** The samples (-1..1) of `bytes` of A-law (`pcma`) or mu-law (`pcmu`), one byte each. */
export function decodeG711(law: 'pcma' | 'pcmu', bytes: Uint8Array): Float32Array<ArrayBuffer> {
  const lookup = law === 'pcma' ? ALAW : ULAW;
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = lookup[bytes[i] as number] as number;
  return out;
}
