/**
 * Stand-ins for ffmpeg children in unit tests: a launcher that records every process it
 * "starts", so a test can feed its stdout, make it exit, and count the stops it was asked for.
 */
import type { OutputFormat } from '../../src/ffmpeg/args.js';
import type { FfmpegProcess } from '../../src/ffmpeg/process.js';
import type { SourceHandlers } from '../../src/ffmpeg/source.js';

export interface FakeProcess extends FfmpegProcess {
  /** The camera it was launched for. */
  readonly camera: string;
  /** What the camera listens on: call onStdout / onExit to play ffmpeg. */
  readonly handlers: SourceHandlers;
  stopCalls: number;
}

/** A `launch` for `camera` that appends each process it starts to `processes`. */
export function fakeLauncher(
  processes: FakeProcess[],
  camera: string,
  output: OutputFormat = 'mpjpeg',
): (handlers: SourceHandlers) => FakeProcess {
  return (handlers) => {
    handlers.onPlan({ output, copyJpeg: output === 'mpjpeg' });
    const process: FakeProcess = {
      pid: 1000 + processes.length,
      camera,
      handlers,
      stopCalls: 0,
      stop() {
        this.stopCalls++;
        return Promise.resolve();
      },
    };
    processes.push(process);
    return process;
  };
}
