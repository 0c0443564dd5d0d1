/**
 * A camera's source, as the camera sees it: started with handlers, it says what it will write
 * (the plan), then hands over bytes (an ffmpeg's outputs: pictures on stdout, sound on a second
 * pipe) or units already cut (another node of a cluster), and reports its end once. A camera's
 * ffmpeg (after a probe, when one is needed), the relay of a camera another node runs and the
 * JPEG transcoder of a video stream are all sources; the camera owns the one it started.
 */
import type { AudioCodec, AudioInfo, Codec } from '../frames/codecs.js';

/** What a source writes: JPEGs, or the camera's own video (and sound), timed. */
export type OutputFormat = 'mpjpeg' | 'h264' | 'h265';

/** How a source runs: what it writes, and the sound it passes on with copied video. */
export interface SourcePlan {
  output: OutputFormat;
  /** The camera's JPEGs go out as they came in (no fps, width or quality to apply). */
  copyJpeg: boolean;
  /** The camera's sound, copied beside its video (absent: none, or one camplex cannot pass on). */
  audio?: AudioCodec;
}

/** A unit another node of a cluster already cut and timed (microseconds on its clock). */
export interface CutUnit {
  codec: Codec;
  key: boolean;
  pts: number;
  dts: number;
  data: Uint8Array;
  /** The stream's sound, told now and then with its frames. */
  audio?: AudioInfo;
}

/** How a source ended. */
export interface SourceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Last stderr line (redacted), or the spawn error, for the user-facing reason. */
  lastError: string;
  /**
   * Not a failure: the source moved (in a cluster, this node took the camera over): start
   * again at once, with no backoff and nothing counted as failed.
   */
  handover?: boolean;
}

/** What a source tells the camera. */
export interface SourceHandlers {
  /** Called before any output: what it will write. */
  onPlan(plan: SourcePlan): void;
  /** Bytes of its main output (pictures). */
  onStdout(chunk: Uint8Array): void;
  /** Bytes of its second output (the camera's sound), when it has one. */
  onSound?(chunk: Uint8Array): void;
  /**
   * A whole unit (a JPEG, an Annex B access unit from its delimiter, a sound frame) from a
   * source that cuts its own: another node of a cluster. Instead of bytes, after onPlan.
   */
  onUnit(unit: CutUnit): void;
  /** Called once when it has ended (or failed to start). */
  onExit(exit: SourceExit): void;
}

/** A started source: the only way to stop it. */
export interface RunningSource {
  /** Its process, when it is one (for its CPU in /metrics). */
  readonly pid: number | undefined;
  /** Stops it (a process: SIGTERM, SIGKILL after `killAfterMs`); resolves once it ended. */
  stop(killAfterMs?: number): Promise<void>;
}
