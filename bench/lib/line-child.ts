/**
 * A benchmark's child process that speaks JSON lines: commands on stdin, answers on stdout
 * (bench/lib/server.ts, bench/lib/clients.ts). Ending stdin is its cue to exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { onLines } from './lines.js';

const ANSWER_DEADLINE_MS = 10_000;
const EXIT_DEADLINE_MS = 8000;
const STDERR_TAIL_CHARS = 4000;
const MAX_UNCLAIMED_LINES = 1000;

export type Message = Record<string, unknown>;

/** A child speaking JSON lines: commands on stdin, answers on stdout. */
export class LineChild {
  private readonly child: ChildProcess;
  private readonly label: string;
  private unclaimed: Message[] = [];
  private waiters: Array<{ pick: (m: Message) => boolean; resolve: (m: Message) => void }> = [];
  private stderr = '';
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;
  private exitListeners: Array<() => void> = [];

  constructor(label: string, file: string, args: string[], nodeFlags: string[] = []) {
    this.label = label;
    this.child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', file, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    if (this.child.stdout) onLines(this.child.stdout, (line) => this.onLine(line));
    this.child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      this.stderr = (this.stderr + text).slice(-STDERR_TAIL_CHARS);
    });
    this.child.stdin?.on('error', () => {}); // a child that died is reported by its exit
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code) => {
        this.exitCode = code;
        for (const listener of this.exitListeners.splice(0)) listener();
        resolve();
      });
    });
  }

  private onLine(line: string): void {
    let message: Message;
    try {
      message = JSON.parse(line) as Message;
    } catch {
      return; // not one of ours (a stray log line)
    }
    const index = this.waiters.findIndex((waiter) => waiter.pick(message));
    const waiter = index >= 0 ? this.waiters.splice(index, 1)[0] : undefined;
    if (waiter) waiter.resolve(message);
    else if (this.unclaimed.length < MAX_UNCLAIMED_LINES) this.unclaimed.push(message);
  }

  /** Resolves with the first line that has `key`; rejects at the deadline or on exit. */
  waitFor<T>(key: string, deadlineMs = ANSWER_DEADLINE_MS): Promise<T> {
    const pick = (message: Message) => key in message;
    const queued = this.unclaimed.findIndex(pick);
    if (queued >= 0) {
      const [message] = this.unclaimed.splice(queued, 1);
      return Promise.resolve(message?.[key] as T);
    }
    return new Promise<T>((resolve, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((waiter) => waiter !== entry);
        reject(new Error(`${this.label}: ${why} waiting for "${key}"\n${this.stderr.trim()}`));
      };
      const timer = setTimeout(() => fail(`no answer within ${deadlineMs} ms`), deadlineMs);
      const onExit = () => fail(`exited with ${this.exitCode}`);
      const entry = {
        pick,
        resolve: (message: Message) => {
          clearTimeout(timer);
          this.exitListeners = this.exitListeners.filter((listener) => listener !== onExit);
          resolve(message[key] as T);
        },
      };
      if (this.exitCode !== undefined) {
        fail(`exited with ${this.exitCode}`);
        return;
      }
      this.waiters.push(entry);
      this.exitListeners.push(onExit);
    });
  }

  /** The child's process id. */
  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.label}: not started`);
    return this.child.pid;
  }

  /** Sends one command and waits for the line answering it. */
  ask<T>(command: Message, key: string): Promise<T> {
    const answer = this.waitFor<T>(key);
    this.child.stdin?.write(`${JSON.stringify(command)}\n`);
    return answer;
  }

  /** Ends stdin (the child's cue to exit) and waits; SIGKILL after the deadline. */
  async stop(): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), EXIT_DEADLINE_MS);
    await this.exited;
    clearTimeout(timer);
  }
}
