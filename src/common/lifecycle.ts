/**
 * What start-up built, in the order it was built, so it can be taken down in the opposite
 * order: at shutdown, and when start-up fails part-way (a NATS connection made before a listen
 * that failed must not keep the process alive). A step that throws is logged and the next
 * one still runs.
 */
import type { Log } from './log.js';

interface Step {
  readonly name: string;
  readonly close: () => unknown;
}

export class Lifecycle {
  private readonly steps: Step[] = [];
  private closing: Promise<void> | undefined;
  private readonly log: Log;

  constructor(log: Log) {
    this.log = log;
  }

  /** `close` undoes what was just built; it runs before whatever was built earlier. */
  add(name: string, close: () => unknown): void {
    this.steps.push({ name, close });
  }

  /** Runs every step's close, last added first, once; later calls get the same promise. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const step of this.steps.splice(0).reverse()) {
        try {
          await step.close();
        } catch (error) {
          this.log.error({ err: error, part: step.name }, `stopping ${step.name} failed`);
        }
      }
    })();
    return this.closing;
  }
}
