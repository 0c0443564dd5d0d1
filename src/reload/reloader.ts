/**
 * Config reloads, one at a time and never failing the process. A SIGHUP and a file save that
 * come together are one reload: the file is read once no request came for `settleMs` (a file
 * written in several pieces is read when the writing stops, not after its first piece), or at
 * the latest `MAX_SETTLE_FACTOR` times that after the first (a file written all the time is
 * still read). A request that comes while a reload runs is served by one more reload after it
 * (the file may have changed again), never by two. Each reload reads the file, refuses it when
 * it does not fit what the running process needs (`check`), applies it (`apply`), and ends in
 * one report; whatever throws on the way becomes a `failed` report, and the next reload runs as
 * usual. So a request's promise never rejects: callers may drop it (`void`).
 */
import type { Clock } from '../common/clock.js';
import type { Log } from '../common/log.js';

/** The longest requests that keep coming put the read off, in settle times. */
const MAX_SETTLE_FACTOR = 10;

export interface ReloadChanges {
  added: string[];
  removed: string[];
  changed: string[];
  /** Config sections that changed but take effect only after a restart. */
  needRestart: string[];
}

export type ReloadReport =
  | ({ outcome: 'applied' } & ReloadChanges)
  /** The file is invalid or unfit: nothing changed, the running config stays. */
  | { outcome: 'refused'; reason: string }
  /** Applying threw part-way: what was applied before stays, and the error is logged. */
  | { outcome: 'failed'; reason: string };

export interface ReloaderOptions<C> {
  /** Reads and validates the file; throws a readable error when it is invalid. */
  load: () => C;
  /** Why `next` may not replace the running config, or undefined when it may. */
  check: (next: C) => string | undefined;
  apply: (next: C) => Promise<ReloadChanges>;
  /** Hides secrets in what is logged of errors. */
  redact: (text: string) => string;
  log: Log;
  clock: Clock;
  /** How long the file must go without a request before it is read (a save may be several writes). */
  settleMs: number;
}

export class Reloader<C> {
  private readonly options: ReloaderOptions<C>;
  /** The next reload, asked for and not started yet. */
  private pending: Promise<ReloadReport> | undefined;
  /** The reload running now (or the last one), which the next one waits for. */
  private running: Promise<unknown> = Promise.resolve();
  private causes = new Set<string>();
  /** When the latest request's settle time ends (clock time). */
  private quietAt = 0;

  constructor(options: ReloaderOptions<C>) {
    this.options = options;
  }

  /**
   * Asks for a reload because of `cause` ('SIGHUP', 'file saved'); resolves with its report and
   * never rejects, so a signal handler may drop it.
   */
  request(cause: string): Promise<ReloadReport> {
    this.causes.add(cause);
    this.quietAt = this.options.clock.now() + this.options.settleMs;
    this.pending ??= this.schedule().catch((error: unknown) => {
      const reason = this.options.redact(messageOf(error));
      this.options.log.error({ cause, err: reason }, 'config reload failed');
      return { outcome: 'failed', reason } as const;
    });
    return this.pending;
  }

  private async schedule(): Promise<ReloadReport> {
    const { clock, settleMs } = this.options;
    const latest = clock.now() + MAX_SETTLE_FACTOR * settleMs;
    const quiet = () => Math.min(this.quietAt, latest) - clock.now();
    let wait = settleMs;
    do {
      for (; wait > 0; wait = quiet()) {
        await new Promise<void>((resolve) => clock.setTimeout(resolve, wait));
      }
      await this.running;
      // Requests that came while the last reload finished put the read off again.
      wait = quiet();
    } while (wait > 0);
    // From here on a new request asks for the reload after this one.
    this.pending = undefined;
    const causes = [...this.causes];
    this.causes = new Set();
    const run = this.run(causes);
    this.running = run;
    return run;
  }

  private async run(causes: string[]): Promise<ReloadReport> {
    const { log, redact } = this.options;
    const cause = causes.join(' + ');
    let next: C;
    try {
      next = this.options.load();
    } catch (error) {
      const reason = redact(messageOf(error));
      log.error({ cause, err: reason }, 'config reload refused: the running config stays');
      return { outcome: 'refused', reason };
    }
    let unfit: string | undefined;
    try {
      unfit = this.options.check(next);
    } catch (error) {
      unfit = `cannot check it: ${messageOf(error)}`;
    }
    if (unfit !== undefined) {
      const reason = redact(unfit);
      log.error({ cause, err: reason }, `config reload refused: ${reason}`);
      return { outcome: 'refused', reason };
    }
    try {
      const changes = await this.options.apply(next);
      log.info({ cause, ...changes }, `config reloaded: ${describe(changes)}`);
      if (changes.needRestart.length > 0) {
        const sections = changes.needRestart.join(', ');
        log.warn(
          { sections: changes.needRestart },
          `config sections ${sections} changed: they take effect after a restart`,
        );
      }
      return { outcome: 'applied', ...changes };
    } catch (error) {
      const reason = redact(messageOf(error));
      log.error({ cause, err: reason }, 'config reload failed while applying');
      return { outcome: 'failed', reason };
    }
  }
}

function describe(changes: ReloadChanges): string {
  const parts = [
    changes.added.length > 0 ? `added ${changes.added.join(', ')}` : '',
    changes.removed.length > 0 ? `removed ${changes.removed.join(', ')}` : '',
    changes.changed.length > 0 ? `changed ${changes.changed.join(', ')}` : '',
  ].filter((part) => part !== '');
  return parts.length > 0 ? parts.join('; ') : 'no camera changed';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
