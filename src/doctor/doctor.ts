/**
 * `camplex doctor`: why a camera shows nothing, before anyone reads logs. It checks the ffmpeg
 * camplex would use (what it is, and the muxer, encoder and bitstream filters camplex needs),
 * then runs each camera stream exactly as camplex does (the same probe, arguments, timeouts and
 * splitter: a Camera with its SourceLauncher) for a few seconds, and reports what came: codec,
 * size, frame rate, key-frame interval, B-frames, which path browsers get and what it costs, and
 * advice. Everything printed passes the config's redactor: no credential gets out.
 */
import { spawnSync } from 'node:child_process';
import { Camera, type CameraListener, type Frame } from '../camera/camera.js';
import { systemClock } from '../common/clock.js';
import { createLog } from '../common/log.js';
import { printable } from '../common/text.js';
import type { CameraConfig, Config } from '../config/schema.js';
import { streamsOf } from '../config/streams.js';
import { MPJPEG_BOUNDARY } from '../ffmpeg/args.js';
import type { FfmpegBinary } from '../ffmpeg/locate.js';
import { ChildRegistry, startFfmpeg } from '../ffmpeg/process.js';
import { SourceLauncher } from '../ffmpeg/source.js';
import type { Redactor } from '../guard/redactor.js';
import type { ConnectPtz, PtzPreset } from '../ptz/device.js';
import { connectOnvif } from '../ptz/onvif.js';

/** How long a stream is watched once its first frame came, at most. */
const WATCH_MS = 4000;
/** Key frames to see (after the first) before the interval is known. */
const KEYS_TO_SEE = 2;

export interface FfmpegReport {
  ok: boolean;
  path: string;
  version: string;
  origin: string;
  /** Muxers, encoders and bitstream filters camplex needs that this ffmpeg lacks. */
  missing: string[];
}

export interface StreamReport {
  /** `<camera>` or `<camera>@sub`. */
  id: string;
  name: string;
  ok: boolean;
  /** Why not, as camplex would show it on the tile. */
  reason?: string;
  codec?: string;
  codecString?: string;
  width?: number;
  height?: number;
  fps?: number;
  keyIntervalSeconds?: number;
  bframes?: boolean;
  /** The camera's sound camplex passes on, and how many of its frames came per second. */
  audio?: { codec: string; rate: number; channels: number; framesPerSecond?: number };
  /** What browsers get, and what it costs the server. */
  path?: string;
  advice: string[];
}

/** A camera's PTZ (ONVIF): whether it answered, and its presets. */
export interface PtzReport {
  id: string;
  ok: boolean;
  /** Why not (credentials redacted). */
  reason?: string;
  presets?: PtzPreset[];
}

export interface DoctorReport {
  ok: boolean;
  ffmpeg: FfmpegReport;
  streams: StreamReport[];
  ptz: PtzReport[];
}

const NEEDED: Array<[kind: 'muxers' | 'encoders', name: string]> = [
  ['muxers', 'mpjpeg'],
  ['muxers', 'mp4'],
  ['muxers', 'mov'],
  ['encoders', 'mjpeg'],
];

const SOUND_NAMES: Readonly<Record<string, string>> = {
  aac: 'AAC',
  opus: 'Opus',
  pcma: 'G.711 A-law',
  pcmu: 'G.711 mu-law',
};

/** What this ffmpeg is and what it lacks of what camplex uses. */
export function checkFfmpeg(ffmpeg: FfmpegBinary): FfmpegReport {
  const lists = new Map<string, string>();
  const missing: string[] = [];
  for (const [kind, name] of NEEDED) {
    if (!lists.has(kind)) {
      const run = spawnSync(ffmpeg.path, ['-hide_banner', `-${kind}`], { encoding: 'utf8' });
      lists.set(kind, `${run.stdout ?? ''}${run.stderr ?? ''}`);
    }
    if (!new RegExp(`\\b${name}\\b`).test(lists.get(kind) ?? '')) missing.push(`${kind}: ${name}`);
  }
  return {
    ok: missing.length === 0,
    path: ffmpeg.path,
    version: ffmpeg.version,
    origin: ffmpeg.origin,
    missing,
  };
}

/** Runs one stream as camplex would and reports what came. */
export async function probeStream(
  stream: CameraConfig,
  config: Config,
  ffmpeg: FfmpegBinary,
  redactor: Redactor,
): Promise<StreamReport> {
  const registry = new ChildRegistry();
  const redact = (text: string) => redactor.redact(text);
  const launcher = new SourceLauncher({
    camera: stream,
    ffmpeg,
    start: (args, handlers) =>
      startFfmpeg({ binary: ffmpeg.path, args, redact, registry }, handlers),
    redact,
  });
  const frames: Array<{ at: number; key: boolean }> = [];
  let soundFrames = 0;
  let failure: string | undefined;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const listener: CameraListener = {
    onFrame: (_camera: Camera, frame: Frame) => {
      if (frame.audio) {
        soundFrames++;
        return;
      }
      frames.push({ at: frame.at, key: frame.key });
      const keys = frames.filter((f) => f.key).length;
      const watched = (frames.at(-1)?.at ?? 0) - (frames[0]?.at ?? 0);
      if (keys > KEYS_TO_SEE || watched >= WATCH_MS) finish();
    },
    onState: (camera: Camera) => {
      const info = camera.info();
      if (info.state === 'retrying' || info.state === 'offline') {
        failure = info.reason ?? 'failed';
        finish();
      }
    },
    onCodec: () => {},
  };
  const camera = new Camera(stream, {
    launch: (handlers, attempt) => launcher.launch(handlers, attempt),
    listener,
    clock: systemClock,
    log: createLog({ level: 'silent' }),
    boundary: MPJPEG_BOUNDARY,
    maxFrameBytes: config.stream.maxFrameBytes,
    ...(stream.stallSeconds !== undefined ? { stallMs: stream.stallSeconds * 1000 } : {}),
  });
  camera.start();
  // The first frame may take the whole start timeout; then at most WATCH_MS more.
  const watchdog = setInterval(() => {
    const first = frames[0]?.at;
    if (first !== undefined && systemClock.now() - first > WATCH_MS + 500) finish();
  }, 250);
  await finished;
  clearInterval(watchdog);
  const info = camera.info();
  await camera.shutDown();
  const report: StreamReport = {
    id: stream.id,
    name: stream.name,
    ok: failure === undefined,
    advice: [],
  };
  if (failure !== undefined) {
    report.reason = redact(failure);
    report.advice.push(adviceForFailure(failure));
    return report;
  }
  const codec = camera.currentCodec;
  report.codec = codec;
  if (info.codecString) report.codecString = info.codecString;
  if (info.width) report.width = info.width;
  if (info.height) report.height = info.height;
  report.bframes = info.bframes === true;
  const span = ((frames.at(-1)?.at ?? 0) - (frames[0]?.at ?? 0)) / 1000;
  if (span > 0) report.fps = Math.round(((frames.length - 1) / span) * 10) / 10;
  if (info.audio) {
    const { codec: sound, rate, channels } = info.audio;
    report.audio = {
      codec: sound,
      rate,
      channels,
      ...(span > 0 ? { framesPerSecond: Math.round((soundFrames / span) * 10) / 10 } : {}),
    };
  }
  const keys = frames.filter((f) => f.key).map((f) => f.at);
  if (codec !== 'jpeg' && keys.length >= 2) {
    const gaps = keys.slice(1).map((at, i) => at - (keys[i] ?? at));
    report.keyIntervalSeconds =
      Math.round(gaps.reduce((a, b) => a + b, 0) / gaps.length / 100) / 10;
  }
  describePath(report, stream, config);
  return report;
}

/** The browsers' path and its cost, and advice from what the stream sends. */
function describePath(report: StreamReport, stream: CameraConfig, config: Config): void {
  const { codec, width = 0, keyIntervalSeconds, bframes } = report;
  if (codec === 'h264' || codec === 'h265') {
    report.path =
      `passthrough: browsers get the camera's own ${codec === 'h264' ? 'H.264' : 'H.265'} ` +
      `${report.audio ? `and sound (${SOUND_NAMES[report.audio.codec] ?? report.audio.codec}) ` : ''}` +
      '(WebCodecs; on plain http Media Source Extensions for H.264); about 1.5% of a core per ' +
      '1080p camera here. JPEG (other viewers, /mjpeg, snapshots) is transcoded only while asked for.';
  } else if (/^demo:/i.test(stream.url)) {
    report.path = 'a test pattern ffmpeg makes as JPEG';
  } else if (stream.codec === 'jpeg' || /^https?:/i.test(stream.url)) {
    report.path = 'JPEG passed through as the camera sends it: next to nothing here';
  } else {
    report.path =
      'transcoded to JPEG by ffmpeg: about what decoding and encoding the picture costs';
  }
  const camera = config.cameras.find((c) => c.id === stream.id);
  if (camera && !camera.substream && width > 1280) {
    report.advice.push(
      `${width}x${report.height} is more than a grid tile shows: add this camera's sub-stream ` +
        '(substream:) for the grid; a focused camera still shows the main stream',
    );
  }
  if (bframes) {
    report.advice.push(
      'the camera sends B-frames: they play on every path, each picture shown a frame or two ' +
        'after it is decoded; turn them off in the camera for the least delay',
    );
  }
  if (keyIntervalSeconds !== undefined && keyIntervalSeconds > 4) {
    report.advice.push(
      `a key frame every ${keyIntervalSeconds} s: a page opened later gets every unit since the ` +
        "last one at once (up to that much video), and a viewer too slow to take the units it missed waits that long; set the camera's I-frame interval to 1-2 s for lighter catch-ups",
    );
  }
  if (codec === 'h265') {
    report.advice.push(
      'H.265: browsers without HEVC in WebCodecs, and every plain-http page, get JPEG transcoded ' +
        'here; H.264 plays everywhere',
    );
  }
}

function adviceForFailure(reason: string): string {
  if (/401|unauthori[sz]ed|authentication/i.test(reason)) {
    return 'the camera refused the user name or password: check user/password in the config';
  }
  if (/refused|no route|unreachable|timed out|timeout|resolve|not known/i.test(reason)) {
    return 'the camera is not reachable from here: check its address, port and network';
  }
  if (/404|not found|no such file/i.test(reason)) {
    return 'the camera answered but has no stream at that path: check the URL (see its manual)';
  }
  return "see the reason above; `LOG_LEVEL=debug camplex` shows ffmpeg's own messages";
}

/** Checks ffmpeg and every stream; `progress` is told before each stream is probed. */
export async function runDoctor(
  config: Config,
  ffmpeg: FfmpegBinary,
  redactor: Redactor,
  progress: (stream: CameraConfig, index: number, count: number) => void = () => {},
): Promise<DoctorReport> {
  const ffmpegReport = checkFfmpeg(ffmpeg);
  const streams = streamsOf(config.cameras);
  const reports: StreamReport[] = [];
  for (const [index, stream] of streams.entries()) {
    progress(stream, index, streams.length);
    reports.push(await probeStream(stream, config, ffmpeg, redactor));
  }
  const ptz = await Promise.all(
    config.cameras.flatMap((camera) =>
      camera.ptz ? [checkPtz(camera.id, connectOnvif(camera.id, camera.ptz), redactor)] : [],
    ),
  );
  return {
    ok: ffmpegReport.ok && reports.every((report) => report.ok) && ptz.every((p) => p.ok),
    ffmpeg: ffmpegReport,
    streams: reports,
    ptz,
  };
}

/** Connects to one camera's PTZ once, as camplex would, and reads its presets. */
async function checkPtz(id: string, connect: ConnectPtz, redactor: Redactor): Promise<PtzReport> {
  try {
    const device = await connect();
    return { id, ok: true, presets: [...device.presets] };
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    // What a device says reaches a terminal: no escape sequences.
    return { id, ok: false, reason: redactor.redact(printable(text)).slice(0, 200) };
  }
}

/** The report as people read it. */
export function formatReport(report: DoctorReport): string {
  const lines: string[] = [];
  const f = report.ffmpeg;
  lines.push(
    `ffmpeg ${f.version} (${f.origin}: ${f.path}): ${f.ok ? 'ok' : `missing ${f.missing.join(', ')}`}`,
  );
  for (const s of report.streams) {
    lines.push('');
    if (!s.ok) {
      lines.push(`✗ ${s.id} (${s.name}): ${s.reason}`);
    } else {
      const size = s.width && s.height ? ` ${s.width}x${s.height}` : '';
      const rate = s.fps !== undefined ? ` ${s.fps} fps` : '';
      const keys =
        s.keyIntervalSeconds !== undefined ? `, a key frame every ${s.keyIntervalSeconds} s` : '';
      const b = s.bframes ? ', B-frames' : '';
      const sound = s.audio
        ? `; sound ${SOUND_NAMES[s.audio.codec] ?? s.audio.codec} ${s.audio.rate} Hz, ${s.audio.channels === 1 ? 'mono' : `${s.audio.channels} channels`}`
        : '';
      lines.push(
        `✓ ${s.id} (${s.name}): ${s.codecString ?? s.codec}${size}${rate}${keys}${b}${sound}`,
      );
      if (s.path) lines.push(`  ${s.path}`);
    }
    for (const advice of s.advice) lines.push(`  -> ${advice}`);
  }
  for (const p of report.ptz) {
    lines.push('');
    if (!p.ok) {
      lines.push(`✗ ${p.id} PTZ (ONVIF): ${p.reason}`);
      lines.push('  -> check ptz.onvif (the device service URL), ptz.user and ptz.password');
      continue;
    }
    const names = (p.presets ?? []).map((preset) => preset.name);
    const presets = names.length === 0 ? 'no presets' : `presets: ${names.join(', ')}`;
    lines.push(`✓ ${p.id} PTZ (ONVIF): pan, tilt and zoom; ${presets}`);
  }
  const failed = report.streams.filter((s) => !s.ok).length;
  const count = report.streams.length;
  const streams = `${count} stream${count === 1 ? '' : 's'}`;
  lines.push('');
  lines.push(
    failed === 0 && report.ffmpeg.ok
      ? `${streams}: all ok${ptzSummary(report.ptz)}`
      : `${failed} of ${streams} failed${report.ffmpeg.ok ? '' : '; ffmpeg lacks what camplex needs'}${ptzSummary(report.ptz)}`,
  );
  return `${lines.join('\n')}\n`;
}

function ptzSummary(ptz: readonly PtzReport[]): string {
  if (ptz.length === 0) return '';
  const failed = ptz.filter((p) => !p.ok).length;
  return failed === 0 ? `; PTZ ok` : `; ${failed} of ${ptz.length} PTZ failed`;
}
