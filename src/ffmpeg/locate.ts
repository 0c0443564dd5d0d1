/** Finds the ffmpeg binary: config, then PATH, then the optional npm-shipped build. */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';

export interface FfmpegBinary {
  readonly path: string;
  /** Where it came from, said at start so users know which build runs their cameras. */
  readonly origin: 'config' | 'PATH' | '@ffmpeg-installer/ffmpeg';
  /** e.g. "5.1.9-0+deb12u1"; "unknown" when `-version` does not say. */
  readonly version: string;
  /** The RTSP socket I/O timeout option: `-timeout` since ffmpeg 5, `-stimeout` before. */
  readonly rtspTimeoutFlag: '-timeout' | '-stimeout';
}

/** Locates ffmpeg or throws an Error that says how to install it. */
export function locateFfmpeg(configured?: string, env = process.env): FfmpegBinary {
  if (configured !== undefined) {
    if (!isExecutable(configured)) {
      throw new Error(`ffmpeg.path: ${configured} is not an executable file`);
    }
    return describe(configured, 'config');
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'ffmpeg');
    if (isExecutable(candidate)) return describe(candidate, 'PATH');
  }
  const shipped = shippedFfmpeg();
  if (shipped !== undefined && isExecutable(shipped)) {
    return describe(shipped, '@ffmpeg-installer/ffmpeg');
  }
  throw new Error(
    'ffmpeg not found: install it (Debian/Ubuntu: apt-get install ffmpeg), set ffmpeg.path in ' +
      'the config, or `npm install @ffmpeg-installer/ffmpeg`',
  );
}

function shippedFfmpeg(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    return (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
  } catch {
    return undefined; // optional dependency not installed on this platform
  }
}

function isExecutable(path: string): boolean {
  try {
    const stat = statSync(path);
    // Mode bits rather than access(X_OK), which a directory passes too.
    return stat.isFile() && (stat.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

function describe(path: string, origin: FfmpegBinary['origin']): FfmpegBinary {
  const result = spawnSync(path, ['-hide_banner', '-version'], { encoding: 'utf8', timeout: 5000 });
  const match = /ffmpeg version (\S+)/.exec(result.stdout ?? '');
  const version = match?.[1] ?? 'unknown';
  // Ask the binary rather than parse its version: static builds print git hashes.
  const rtspHelp = spawnSync(path, ['-hide_banner', '-h', 'demuxer=rtsp'], {
    encoding: 'utf8',
    timeout: 5000,
  });
  const rtspTimeoutFlag = /^\s*-stimeout\b/m.test(rtspHelp.stdout ?? '') ? '-stimeout' : '-timeout';
  return { path, origin, version, rtspTimeoutFlag };
}
