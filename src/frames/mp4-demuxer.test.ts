import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import generator, { type AudioTrack, type VideoTrack } from 'mux.js/lib/mp4/mp4-generator.js';
import { DELTA, KEY } from '../../support/fmp4-stream.js';
import { seeded, withSeed } from '../../support/random.js';
import { Mp4Demuxer, type Sample, type Track } from './mp4-demuxer.js';

/**
 * About 1 s of each, from GStreamer RTSP test cameras through ffmpeg as camplex runs it
 * (`-c copy -f mp4|mov -movflags empty_moov+default_base_moof -frag_duration 1`): H.264 main with
 * B-frames and AAC, H.264 with G.711 A-law (MOV), with Opus (MP4); H.265 with G.711 mu-law from
 * ffmpeg's own encoders.
 */
const fixture = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../../test/fixtures/${name}`, import.meta.url)));
const BFRAMES_AAC = fixture('h264-bframes-aac.mp4');
const PCMA = fixture('h264-pcma.mov');
const OPUS = fixture('h264-opus.mp4');
const HEVC_PCMU = fixture('h265-pcmu.mov');

interface Seen {
  tracks: Track[][];
  samples: Array<Omit<Sample, 'track' | 'data'> & { track: number; kind: string; hash: string }>;
  demuxer: Mp4Demuxer;
}

function demux(chunks: Iterable<Uint8Array>, maxSampleBytes = 1 << 20): Seen {
  const seen: Seen = { tracks: [], samples: [], demuxer: undefined as never };
  seen.demuxer = new Mp4Demuxer({
    maxSampleBytes,
    onTracks: (tracks) => seen.tracks.push(tracks),
    onSample: (sample) =>
      seen.samples.push({
        track: sample.track.id,
        kind: sample.track.kind,
        dts: sample.dts,
        cto: sample.cto,
        duration: sample.duration,
        key: sample.key,
        hash: createHash('sha1').update(sample.data).digest('hex'),
      }),
  });
  for (const chunk of chunks) seen.demuxer.push(chunk);
  return seen;
}

function* pieces(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

/** `bytes` cut at `count` random places. */
function* randomCuts(
  bytes: Uint8Array,
  count: number,
  random: () => number,
): Generator<Uint8Array> {
  const cuts = [
    ...new Set(Array.from({ length: count }, () => Math.floor(random() * bytes.length))),
  ];
  cuts.sort((a, b) => a - b);
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    yield bytes.subarray(from, cut);
    from = cut;
  }
}

/** A synthetic video track of mux.js, for streams the fixtures do not show. */
function videoTrack(): VideoTrack {
  const sps = new Uint8Array([0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0x84]);
  return {
    id: 1,
    type: 'video',
    duration: 0,
    width: 320,
    height: 180,
    sps: [sps],
    pps: [new Uint8Array([0x68, 0xce, 0x3c, 0x80])],
    profileIdc: 0x42,
    profileCompatibility: 0xc0,
    levelIdc: 0x1e,
    baseMediaDecodeTime: 0,
    samples: [],
  };
}

function audioTrack(): AudioTrack {
  return {
    id: 2,
    type: 'audio',
    duration: 0,
    samplerate: 48000,
    channelcount: 2,
    samplesize: 16,
    audioobjecttype: 2,
    samplingfrequencyindex: 3,
    baseMediaDecodeTime: 0,
    samples: [],
  };
}

/** One fragment of one sample of `track` at decode time `dts`. */
function fragment(
  sequence: number,
  track: VideoTrack | AudioTrack,
  dts: number,
  data: Uint8Array,
  key = false,
) {
  const sample =
    track.type === 'video'
      ? {
          duration: 3000,
          size: data.length,
          flags: key ? KEY : DELTA,
          compositionTimeOffset: 0,
        }
      : { duration: 1024, size: data.length };
  const moof = generator.moof(sequence, [
    { ...track, baseMediaDecodeTime: dts, samples: [sample] } as never,
  ]);
  return [moof, generator.mdat(data)];
}

describe('Mp4Demuxer', () => {
  it('reads each track of every kind of camera: codec, time base and decoder configuration', () => {
    const tracksOf = (bytes: Uint8Array) => {
      const [tracks] = demux([bytes]).tracks;
      return tracks?.map((track) => {
        const { id, kind, timescale } = track;
        if (track.kind === 'video')
          return {
            id,
            kind,
            timescale,
            codec: track.codec,
            size: `${track.width}x${track.height}`,
            sets: track.parameterSets.length,
            nalLengthSize: track.nalLengthSize,
          };
        if (track.kind === 'audio')
          return {
            id,
            kind,
            timescale,
            codec: track.codec,
            rate: track.sampleRate,
            channels: track.channels,
            config: track.config && Buffer.from(track.config).toString('hex'),
          };
        return { id, kind, format: track.format };
      });
    };
    assert.deepEqual(tracksOf(BFRAMES_AAC), [
      {
        id: 1,
        kind: 'video',
        timescale: 90000,
        codec: 'h264',
        size: '320x180',
        sets: 2,
        nalLengthSize: 4,
      },
      {
        id: 2,
        kind: 'audio',
        timescale: 44100,
        codec: 'aac',
        rate: 44100,
        channels: 1,
        config: '120856e500',
      },
    ]);
    assert.deepEqual(tracksOf(PCMA)?.[1], {
      id: 2,
      kind: 'audio',
      timescale: 8000,
      codec: 'pcma',
      rate: 8000,
      channels: 1,
      config: undefined,
    });
    assert.deepEqual(tracksOf(OPUS)?.[1], {
      id: 2,
      kind: 'audio',
      timescale: 48000,
      codec: 'opus',
      rate: 48000,
      channels: 2,
      config: '000200000000bb80000000',
    });
    assert.deepEqual(tracksOf(HEVC_PCMU), [
      {
        id: 1,
        kind: 'video',
        timescale: 10240,
        codec: 'h265',
        size: '320x180',
        sets: 4,
        nalLengthSize: 4,
      },
      {
        id: 2,
        kind: 'audio',
        timescale: 8000,
        codec: 'pcmu',
        rate: 8000,
        channels: 1,
        config: undefined,
      },
    ]);
  });

  it('gives every sample with its decode time, composition offset and sync flag', () => {
    const { samples, demuxer } = demux([BFRAMES_AAC]);
    const video = samples.filter((sample) => sample.kind === 'video');
    const audio = samples.filter((sample) => sample.kind === 'audio');
    assert.equal(video.length, 12);
    assert.equal(audio.length, 62);
    assert.deepEqual(demuxer.stats.dropped, {
      garbage: 0,
      oversized: 0,
      unplaced: 0,
      untracked: 0,
    });
    assert.equal(video[0]?.key, true);
    assert.ok(
      video.slice(1).every((sample) => !sample.key || sample === video[10]),
      'a key every 10',
    );
    // B-frames: pictures are shown out of decode order, so composition offsets differ.
    assert.ok(new Set(video.map((sample) => sample.cto)).size > 1);
    // Decode times rise by a frame (10 fps at 90 kHz) after the first; AAC frames are 1024
    // samples (the camera's clock, through RTP, rounds one of them to 1023).
    assert.ok(video.slice(2).every((sample, i) => sample.dts - (video[i + 1]?.dts ?? 0) === 9000));
    assert.ok(
      audio.slice(1).every((sample, i) => Math.abs(sample.dts - (audio[i]?.dts ?? 0) - 1024) <= 1),
    );
    assert.ok(audio.every((sample) => sample.key && sample.cto === 0));
  });

  it('gives the same samples however the stream is cut: every byte, small pieces, random cuts', () => {
    for (const bytes of [BFRAMES_AAC, PCMA, OPUS, HEVC_PCMU]) {
      const whole = demux([bytes]).samples;
      assert.deepEqual(demux(pieces(bytes, 1)).samples, whole);
      for (const size of [2, 3, 7, 8, 9, 16, 100, 1000])
        assert.deepEqual(demux(pieces(bytes, size)).samples, whole);
    }
    return withSeed(seeded('CAMPLEX_MP4_SEED'), (random) => {
      for (let round = 0; round < 20; round++) {
        const bytes = [BFRAMES_AAC, PCMA, OPUS, HEVC_PCMU][round % 4] as Uint8Array;
        assert.deepEqual(demux(randomCuts(bytes, 50, random)).samples, demux([bytes]).samples);
      }
    });
  });

  it('skips garbage between boxes and goes on at the next fragment', () => {
    const whole = demux([PCMA]).samples;
    // Noise after the 4th fragment (boxes: ftyp, moov, then moof and mdat pairs).
    const cut = boxEnds(PCMA)[9] as number;
    const noise = new Uint8Array(333).map((_, i) => (i * 37) & 0xff);
    const seen = demux(pieces(concat([PCMA.subarray(0, cut), noise, PCMA.subarray(cut)]), 64));
    assert.deepEqual(seen.samples, whole);
    assert.equal(seen.demuxer.stats.dropped.garbage, 333);
  });

  it('drops a fragment whose mdat is cut short by garbage, and counts it', () => {
    const ends = boxEnds(PCMA);
    const moofEnd = ends[8] as number; // a moof; its mdat follows
    const mdatEnd = ends[9] as number;
    const broken = concat([
      PCMA.subarray(0, moofEnd),
      new Uint8Array([0, 0, 0, 9, 0x6d, 0x64]),
      PCMA.subarray(mdatEnd),
    ]);
    const seen = demux([broken]);
    assert.equal(seen.samples.length, demux([PCMA]).samples.length - 1);
    assert.equal(seen.demuxer.stats.dropped.unplaced, 1);
  });

  it('skips a sample larger than its bound without holding it, and goes on', () => {
    const video = videoTrack();
    const big = new Uint8Array(50_000).fill(7);
    const stream = [
      generator.initSegment([video]),
      ...fragment(1, video, 0, new Uint8Array([0, 0, 0, 2, 0x09, 0xf0]), true),
      ...fragment(2, video, 3000, big),
      ...fragment(3, video, 6000, new Uint8Array([0, 0, 0, 2, 0x09, 0xf0])),
    ];
    const seen = demux(pieces(concat(stream), 1000), 10_000);
    assert.deepEqual(
      seen.samples.map((sample) => sample.dts),
      [0, 6000],
    );
    assert.equal(seen.demuxer.stats.dropped.oversized, 1);
  });

  it('takes a new moov mid-stream as new tracks, and a track whose first sample comes late', () => {
    const video = videoTrack();
    const audio = audioTrack();
    const aud = new Uint8Array([0, 0, 0, 2, 0x09, 0xf0]);
    const stream = concat([
      generator.initSegment([video]),
      ...fragment(1, video, 0, aud, true),
      // ffmpeg started again: a new header, now with sound that starts after two pictures.
      generator.initSegment([video, audio]),
      ...fragment(1, video, 90_000, aud, true),
      ...fragment(2, video, 93_000, aud),
      ...fragment(3, audio, 48_000, new Uint8Array([0x21, 0x10])),
    ]);
    const seen = demux(pieces(stream, 13));
    assert.deepEqual(
      seen.tracks.map((tracks) => tracks.map((track) => track.kind)),
      [['video'], ['video', 'audio']],
    );
    assert.deepEqual(
      seen.samples.map((sample) => [sample.kind, sample.dts]),
      [
        ['video', 0],
        ['video', 90_000],
        ['video', 93_000],
        ['audio', 48_000],
      ],
    );
  });

  it('reads sound without pictures', () => {
    const audio = audioTrack();
    const stream = concat([
      generator.initSegment([audio]),
      ...fragment(1, audio, 0, new Uint8Array([1, 2, 3])),
      ...fragment(2, audio, 1024, new Uint8Array([4, 5, 6])),
    ]);
    const seen = demux([stream]);
    assert.deepEqual(
      seen.tracks[0]?.map((track) => track.kind),
      ['audio'],
    );
    assert.deepEqual(
      seen.samples.map((sample) => [sample.kind, sample.dts, sample.key]),
      [
        ['audio', 0, true],
        ['audio', 1024, true],
      ],
    );
  });

  it('keeps decode times as the stream gives them, jumps and all', () => {
    const video = videoTrack();
    const aud = new Uint8Array([0, 0, 0, 2, 0x09, 0xf0]);
    const stream = concat([
      generator.initSegment([video]),
      ...fragment(1, video, 1_000_000, aud, true),
      ...fragment(2, video, 5_000_000_000, aud), // more than 32 bits: tfdt version 1
      ...fragment(3, video, 3000, aud), // back to the start
    ]);
    assert.deepEqual(
      demux([stream]).samples.map((sample) => sample.dts),
      [1_000_000, 5_000_000_000, 3000],
    );
  });

  it('counts samples that come before any moov, and gives none', () => {
    const ends = boxEnds(PCMA);
    const moovEnd = ends[1] as number;
    const seen = demux([PCMA.subarray(moovEnd)]);
    assert.equal(seen.samples.length, 0);
    assert.ok(seen.demuxer.stats.dropped.untracked > 0);
  });
});

/** Offsets where each top-level box of `bytes` ends. */
function boxEnds(bytes: Uint8Array): number[] {
  const ends: number[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + 8 <= bytes.length; ) {
    at += view.getUint32(at);
    ends.push(at);
  }
  return ends;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}
