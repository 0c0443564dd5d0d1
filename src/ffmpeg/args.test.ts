import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ffmpegArgs, MPJPEG_BOUNDARY, SOUND_OUTPUT, transcoderArgs } from './args.js';

const camera = (url: string, extra: object = {}) => ({ id: 'cam', name: 'cam', url, ...extra });

function valueAfter(args: string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at === -1 ? undefined : args[at + 1];
}

describe('ffmpegArgs', () => {
  it('writes mpjpeg with camplex boundary to stdout, quietly, without stdin', () => {
    const args = ffmpegArgs(camera('rtsp://cam.local/stream'));
    assert.equal(valueAfter(args, '-f'), 'mpjpeg');
    assert.equal(valueAfter(args, '-boundary_tag'), MPJPEG_BOUNDARY);
    assert.equal(args.at(-1), 'pipe:1');
    assert.ok(args.includes('-nostdin'));
    assert.equal(valueAfter(args, '-loglevel'), 'error');
    assert.ok(args.includes('-an'));
  });

  it('pulls RTSP over TCP with a socket timeout and low-latency input flags', () => {
    const args = ffmpegArgs(camera('rtsp://user:pw@cam.local/stream'));
    assert.equal(valueAfter(args, '-rtsp_transport'), 'tcp');
    assert.equal(valueAfter(args, '-timeout'), '5000000');
    assert.equal(valueAfter(args, '-fflags'), 'nobuffer+genpts');
    assert.equal(valueAfter(args, '-i'), 'rtsp://user:pw@cam.local/stream');
    assert.equal(valueAfter(args, '-c:v'), 'mjpeg');
  });

  it('uses -stimeout for ffmpeg builds that predate -timeout as socket timeout', () => {
    const args = ffmpegArgs(
      camera('rtsp://cam.local/stream'),
      { output: 'mpjpeg', copyJpeg: false },
      '-stimeout',
    );
    assert.equal(valueAfter(args, '-stimeout'), '5000000');
    assert.equal(args.indexOf('-timeout'), -1);
  });

  it('passes an HTTP MJPEG camera through without re-encoding', () => {
    const args = ffmpegArgs(camera('http://cam.local/video.mjpg'));
    assert.equal(valueAfter(args, '-c:v'), 'copy');
    assert.equal(args.indexOf('-vf'), -1);
    assert.equal(valueAfter(args, '-rw_timeout'), '5000000');
  });

  it('re-encodes an HTTP camera only when fps, width or quality ask for it', () => {
    const args = ffmpegArgs(camera('https://cam.local/video.mjpg', { fps: 5, width: 320 }));
    assert.equal(valueAfter(args, '-c:v'), 'mjpeg');
    assert.equal(valueAfter(args, '-vf'), 'fps=5,scale=320:-2');
  });

  it('generates a demo camera at its size and rate, in real time', () => {
    const args = ffmpegArgs(camera('demo:2', { fps: 10, width: 320 }));
    assert.ok(args.includes('-re'));
    assert.equal(valueAfter(args, '-f'), 'lavfi');
    assert.match(valueAfter(args, '-i') ?? '', /^smptehdbars=size=320x180:rate=10,hue=h=137$/);
  });

  it('loops a file in real time and accepts file:// URLs', () => {
    const args = ffmpegArgs(camera('file:///var/video/a%20b.mp4'));
    assert.equal(valueAfter(args, '-stream_loop'), '-1');
    assert.equal(valueAfter(args, '-i'), '/var/video/a b.mp4');
    assert.equal(valueAfter(ffmpegArgs(camera('./clip.mp4')), '-i'), './clip.mp4');
  });
});

describe('ffmpegArgs for video', () => {
  it('copies H.264 into fragmented MP4 on stdout and its sound into another on fd 3', () => {
    const args = ffmpegArgs(camera('rtsp://cam.local/stream'), {
      output: 'h264',
      copyJpeg: false,
      audio: 'aac',
    });
    // Two outputs, each: what it maps, then how it is written, then where.
    const outputs = [args.indexOf('pipe:1'), args.indexOf(SOUND_OUTPUT)];
    assert.ok(outputs[0] !== undefined && outputs[0] > 0 && (outputs[1] ?? 0) > outputs[0]);
    const video = args.slice(args.indexOf('-map'), outputs[0]);
    const sound = args.slice((outputs[0] ?? 0) + 1, outputs[1]);
    assert.deepEqual(video, [
      '-map',
      '0:v:0',
      '-c',
      'copy',
      '-movflags',
      'delay_moov+default_base_moof',
      '-frag_duration',
      '1',
      '-f',
      'mp4',
    ]);
    assert.deepEqual(sound, [
      '-map',
      '0:a:0',
      '-c',
      'copy',
      '-bsf:a',
      'aac_adtstoasc', // AAC in ADTS (MPEG-TS) into MP4; AAC without ADTS passes as is
      '-movflags',
      'delay_moov+default_base_moof',
      '-frag_duration',
      '1',
      '-f',
      'mp4',
    ]);
    assert.equal(args.indexOf('-an'), -1);
    assert.equal(args.indexOf('-vf'), -1, 'fps and width do not apply to copied video');
  });

  it('writes QuickTime for G.711 (MP4 refuses it), and no second output without sound', () => {
    const pcma = ffmpegArgs(camera('rtsp://cam.local/stream', { fps: 5 }), {
      output: 'h265',
      copyJpeg: false,
      audio: 'pcma',
    });
    assert.equal(pcma[pcma.indexOf(SOUND_OUTPUT) - 1], 'mov');
    assert.equal(pcma.indexOf('-bsf:a'), -1, 'the ADTS filter is for AAC only');
    const silent = ffmpegArgs(camera('rtsp://cam.local/stream'), {
      output: 'h264',
      copyJpeg: false,
    });
    assert.equal(silent.indexOf(SOUND_OUTPUT), -1);
    assert.equal(silent.filter((arg) => arg === '-map').length, 1);
    assert.equal(valueAfter(silent, '-f'), 'mp4');
  });

  it('transcodes stdin to JPEG with small probing, shaped by fps, width and quality', () => {
    const args = transcoderArgs(
      camera('rtsp://cam.local/stream', { fps: 5, width: 640, quality: 4 }),
      'h264',
    );
    assert.equal(valueAfter(args, '-i'), 'pipe:0');
    assert.equal(valueAfter(args, '-probesize'), '32');
    assert.equal(valueAfter(args, '-vf'), 'fps=5,scale=640:-2');
    assert.equal(valueAfter(args, '-q:v'), '4');
    assert.equal(args.at(-1), 'pipe:1');
  });
});
