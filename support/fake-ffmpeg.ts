/**
 * Stand-ins for ffmpeg children in unit tests: a launcher that records every process it
 * "starts", so a test can feed its stdout, make it exit, and count the stops it was asked for.
 */
import type {
  OutputFormat,
  RunningSource,
  SourceHandlers,
  SourcePlan,
} from '../src/camera/source.js';

export interface FakeProcess extends RunningSource {
  /** The camera it was launched for. */
  readonly camera: string;
  /** What the camera listens on: call onStdout / onExit to play ffmpeg. */
  readonly handlers: SourceHandlers;
  stopCalls: number;
}

/**
 * A `launch` for `camera` that appends each process it starts to `processes`; it writes `plan`
 * (or JPEG, or copied video without sound when given only what it writes).
 */
export function fakeLauncher(
  processes: FakeProcess[],
  camera: string,
  plan: OutputFormat | SourcePlan = 'mpjpeg',
): (handlers: SourceHandlers) => FakeProcess {
  const planned = typeof plan === 'string' ? { output: plan, copyJpeg: plan === 'mpjpeg' } : plan;
  return (handlers) => {
    handlers.onPlan(planned);
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
