/**
 * What a stream's sequence parameter set says about it: the codec string a browser's decoder
 * asks for (`avc1.42C01E`, `hvc1.1.6.L93.90`) and the picture size. Pure: bytes of one SPS NAL
 * unit (header included, no start code) in, facts out.
 */

export type VideoCodec = 'h264' | 'h265';

export interface SequenceInfo {
  codecString: string;
  width: number;
  height: number;
}

/** The facts of an SPS, or undefined when it cannot be read. */
export function readSps(codec: VideoCodec, nal: Uint8Array): SequenceInfo | undefined {
  try {
    return codec === 'h264'
      ? readAvcSps(withoutEmulationPrevention(nal))
      : readHevcSps(withoutEmulationPrevention(nal));
  } catch {
    return undefined; // truncated or malformed: the caller waits for the next one
  }
}

/** Removes emulation-prevention bytes (00 00 03 -> 00 00). */
function withoutEmulationPrevention(nal: Uint8Array): Uint8Array {
  const out = new Uint8Array(nal.length);
  let length = 0;
  let zeros = 0;
  for (const byte of nal) {
    if (zeros >= 2 && byte === 3) {
      zeros = 0;
      continue;
    }
    zeros = byte === 0 ? zeros + 1 : 0;
    out[length++] = byte;
  }
  return out.subarray(0, length);
}

/** Reads bits MSB first, with Exp-Golomb codes; throws past the end. */
class Bits {
  private position = 0;
  constructor(private readonly bytes: Uint8Array) {}

  bit(): number {
    const byte = this.bytes[this.position >> 3];
    if (byte === undefined) throw new RangeError('SPS ended early');
    return (byte >> (7 - (this.position++ & 7))) & 1;
  }

  bits(count: number): number {
    let value = 0;
    for (let i = 0; i < count; i++) value = value * 2 + this.bit();
    return value;
  }

  skip(count: number): void {
    for (let i = 0; i < count; i++) this.bit();
  }

  /** Unsigned Exp-Golomb. */
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      if (++zeros > 31) throw new RangeError('Exp-Golomb code too long');
    }
    return 2 ** zeros - 1 + this.bits(zeros);
  }

  /** Signed Exp-Golomb. */
  se(): number {
    const value = this.ue();
    return value % 2 === 1 ? (value + 1) / 2 : -value / 2;
  }
}

const hex2 = (value: number) => value.toString(16).toUpperCase().padStart(2, '0');

/** H.264 SPS (ITU-T H.264 7.3.2.1.1). */
function readAvcSps(sps: Uint8Array): SequenceInfo {
  const bits = new Bits(sps.subarray(1)); // past the NAL header
  const profile = bits.bits(8);
  const constraints = bits.bits(8);
  const level = bits.bits(8);
  bits.ue(); // seq_parameter_set_id
  let chromaFormat = 1;
  if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
    chromaFormat = bits.ue();
    if (chromaFormat === 3) bits.skip(1); // separate_colour_plane_flag
    bits.ue(); // bit_depth_luma_minus8
    bits.ue(); // bit_depth_chroma_minus8
    bits.skip(1); // qpprime_y_zero_transform_bypass_flag
    if (bits.bit()) {
      // seq_scaling_matrix_present_flag: skip the scaling lists
      for (let i = 0; i < (chromaFormat === 3 ? 12 : 8); i++) {
        if (bits.bit()) skipScalingList(bits, i < 6 ? 16 : 64);
      }
    }
  }
  bits.ue(); // log2_max_frame_num_minus4
  const pocType = bits.ue();
  if (pocType === 0) bits.ue();
  else if (pocType === 1) {
    bits.skip(1);
    bits.se();
    bits.se();
    const cycle = bits.ue();
    for (let i = 0; i < cycle; i++) bits.se();
  }
  bits.ue(); // max_num_ref_frames
  bits.skip(1); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = bits.ue() + 1;
  const heightMapUnits = bits.ue() + 1;
  const frameMbsOnly = bits.bit();
  if (!frameMbsOnly) bits.skip(1); // mb_adaptive_frame_field_flag
  bits.skip(1); // direct_8x8_inference_flag
  let [left, right, top, bottom] = [0, 0, 0, 0];
  if (bits.bit()) [left, right, top, bottom] = [bits.ue(), bits.ue(), bits.ue(), bits.ue()];
  const cropX = chromaFormat === 1 || chromaFormat === 2 ? 2 : 1;
  const cropY = (chromaFormat === 1 ? 2 : 1) * (2 - frameMbsOnly);
  return {
    codecString: `avc1.${hex2(profile)}${hex2(constraints)}${hex2(level)}`,
    width: widthMbs * 16 - cropX * (left + right),
    height: (2 - frameMbsOnly) * heightMapUnits * 16 - cropY * (top + bottom),
  };
}

function skipScalingList(bits: Bits, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + bits.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

/** H.265 SPS (ITU-T H.265 7.3.2.2), codec string as ISO/IEC 14496-15 annex E writes it. */
function readHevcSps(sps: Uint8Array): SequenceInfo {
  const bits = new Bits(sps.subarray(2)); // past the two-byte NAL header
  bits.skip(4); // sps_video_parameter_set_id
  const subLayers = bits.bits(3);
  bits.skip(1); // sps_temporal_id_nesting_flag
  const profileSpace = bits.bits(2);
  const tier = bits.bit();
  const profile = bits.bits(5);
  const compatibility = bits.bits(32);
  const constraints = Array.from({ length: 6 }, () => bits.bits(8));
  const level = bits.bits(8);
  const subLayerFlags = Array.from({ length: subLayers }, () => [bits.bit(), bits.bit()]);
  if (subLayers > 0) bits.skip(2 * (8 - subLayers));
  for (const [profilePresent, levelPresent] of subLayerFlags) {
    if (profilePresent) bits.skip(88);
    if (levelPresent) bits.skip(8);
  }
  bits.ue(); // sps_seq_parameter_set_id
  const chromaFormat = bits.ue();
  if (chromaFormat === 3) bits.skip(1);
  let width = bits.ue();
  let height = bits.ue();
  if (bits.bit()) {
    // conformance_window_flag: offsets in chroma samples
    const [left, right, top, bottom] = [bits.ue(), bits.ue(), bits.ue(), bits.ue()];
    const subX = chromaFormat === 1 || chromaFormat === 2 ? 2 : 1;
    const subY = chromaFormat === 1 ? 2 : 1;
    width -= subX * (left + right);
    height -= subY * (top + bottom);
  }
  let reversed = 0;
  for (let i = 0; i < 32; i++) reversed = reversed * 2 + ((compatibility >>> i) & 1);
  let lastConstraint = constraints.length;
  while (lastConstraint > 0 && constraints[lastConstraint - 1] === 0) lastConstraint--;
  const constraintText = constraints
    .slice(0, lastConstraint)
    .map((byte) => `.${byte.toString(16).toUpperCase()}`)
    .join('');
  const space = profileSpace === 0 ? '' : String.fromCharCode(64 + profileSpace);
  return {
    codecString: `hvc1.${space}${profile}.${reversed.toString(16).toUpperCase()}.${tier ? 'H' : 'L'}${level}${constraintText}`,
    width,
    height,
  };
}
