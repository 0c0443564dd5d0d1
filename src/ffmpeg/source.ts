/**
 * Starts one camera stream's ffmpeg with the output that fits what the camera sends: H.264 or
 * H.265 copied with its sound (AAC, Opus, G.711) into fragmented MP4, an MJPEG camera's JPEGs
 * copied, anything else transcoded to JPEG. What the camera sends comes from the config's
 * `codec` and `audio`, else from a short probe before the first start, remembered, and probed
 * again after a failure (a camera may change its codecs when it reboots). The probe and the
 * stream never overlap: one connection to the camera at a time, and the probe counts against the
 * same start timeout.
 */
import { spawn } from 'node:child_process';
import type { RunningSource, SourceHandlers, SourcePlan } from '../camera/source.js';
import type { CameraConfig } from '../config/schema.js';
import type { AudioCodec } from '../frames/codecs.js';
import { ffmpegArgs, mayCarryVideo, probeArgs } from './args.js';
import type { FfmpegBinary } from './locate.js';
import type { FfmpegChild, FfmpegHandlers } from './process.js';

/** Starts ffmpeg with `args`, reporting to `handlers`. */
export type StartFfmpeg = (args: string[], handlers: FfmpegHandlers) => FfmpegChild;

/** How long the probe's stderr tail may grow. */
const PROBE_OUTPUT_BYTES = 16 * 1024;

export class SourceLauncher {
  private readonly camera: CameraConfig;
  private readonly ffmpeg: FfmpegBinary;
  private readonly start: StartFfmpeg;
  private readonly redact: (text: string) => string;
  private plan: SourcePlan | undefined;

  constructor(options: {
    camera: CameraConfig;
    ffmpeg: FfmpegBinary;
    start: StartFfmpeg;
    redact: (text: string) => string;
  }) {
    this.camera = options.camera;
    this.ffmpeg = options.ffmpeg;
    this.start = options.start;
    this.redact = options.redact;
    this.plan = planFromConfig(options.camera);
  }

  /** Starts the stream (probing first when needed); `attempt` 0 is a first start. */
  launch(handlers: SourceHandlers, attempt: number): RunningSource {
    const known = this.plan;
    if (known && (attempt === 0 || !needsProbe(this.camera))) return this.run(known, handlers);
    let current: RunningSource | undefined;
    let stopped = false;
    const probing = this.probe();
    void probing.result.then((outcome) => {
      if (stopped) return;
      if ('error' in outcome) {
        handlers.onExit({ code: null, signal: null, lastError: outcome.error });
        return;
      }
      this.plan = outcome.plan;
      current = this.run(outcome.plan, handlers);
    });
    return {
      pid: undefined,
      async stop(killAfterMs) {
        stopped = true;
        probing.cancel();
        await current?.stop(killAfterMs);
      },
    };
  }

  private run(plan: SourcePlan, handlers: SourceHandlers): RunningSource {
    handlers.onPlan(plan);
    const args = ffmpegArgs(this.camera, plan, this.ffmpeg.rtspTimeoutFlag);
    return this.start(args, handlers);
  }

  /** A short ffmpeg run that prints the camera's streams and stops. */
  private probe(): { result: Promise<{ plan: SourcePlan } | { error: string }>; cancel(): void } {
    const child = spawn(this.ffmpeg.path, probeArgs(this.camera, this.ffmpeg.rtspTimeoutFlag), {
      stdio: ['ignore', 'ignore', 'pipe'],
      windowsHide: true,
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-PROBE_OUTPUT_BYTES);
    });
    const result = new Promise<{ plan: SourcePlan } | { error: string }>((resolve) => {
      child.on('error', (error) => resolve({ error: this.redact(error.message) }));
      child.on('close', () => {
        const codec = /Stream #\d+:\d+[^:]*: Video: (\w+)/.exec(stderr)?.[1];
        if (codec) {
          const audio = /Stream #\d+:\d+[^:]*: Audio: (\w+)/.exec(stderr)?.[1];
          resolve({ plan: planFromProbe(this.camera, codec, audio) });
          return;
        }
        // ffmpeg's last line says why it could not open the camera (redacted: it names the URL).
        const lines = stderr
          .trim()
          .split('\n')
          .filter((line) => !/^\s/.test(line));
        const last = lines.at(-1) ?? 'probe found no video stream';
        resolve({ error: this.redact(/output file/.test(last) ? 'no video stream' : last) });
      });
    });
    return { result, cancel: () => child.kill('SIGKILL') };
  }
}

/** What the config alone says, or undefined when a probe must tell. */
function planFromConfig(camera: CameraConfig): SourcePlan | undefined {
  if (!mayCarryVideo(camera)) {
    // Demo cameras and files are encoded; `codec: jpeg` copies an HTTP camera's JPEGs.
    return { output: 'mpjpeg', copyJpeg: /^https?:/i.test(camera.url) && camera.codec === 'jpeg' };
  }
  if ((camera.codec === 'h264' || camera.codec === 'h265') && camera.audio !== undefined) {
    return {
      output: camera.codec,
      copyJpeg: false,
      ...(camera.audio === 'none' ? {} : { audio: camera.audio }),
    };
  }
  return undefined;
}

function needsProbe(camera: CameraConfig): boolean {
  return planFromConfig(camera) === undefined;
}

/** The codecs ffmpeg names that camplex passes on as sound. */
const PASSED_AUDIO: Readonly<Record<string, AudioCodec>> = {
  aac: 'aac',
  opus: 'opus',
  pcm_alaw: 'pcma',
  pcm_mulaw: 'pcmu',
};

/**
 * The plan for the codecs ffmpeg named (video `h264`, `hevc`, `mjpeg`, ...; sound `aac`,
 * `pcm_alaw`, ...); the config's `codec` and `audio` win where they are set.
 */
function planFromProbe(camera: CameraConfig, video: string, audio?: string): SourcePlan {
  const output =
    camera.codec ?? (video === 'hevc' ? 'h265' : video === 'h264' ? 'h264' : undefined);
  if (output !== 'h264' && output !== 'h265') {
    return { output: 'mpjpeg', copyJpeg: video === 'mjpeg' && camera.codec !== 'jpeg' };
  }
  const sound = camera.audio ?? (audio === undefined ? undefined : PASSED_AUDIO[audio]);
  return { output, copyJpeg: false, ...(sound && sound !== 'none' ? { audio: sound } : {}) };
}
