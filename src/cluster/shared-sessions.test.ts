import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { capturedLog } from '../../support/logs.js';
import { LoginSessions } from '../access/login-sessions.js';
import { followSessions, type SessionBucket, type SessionEntry } from './shared-sessions.js';

/** A sessions bucket in memory: what is written is watched back, as JetStream does. */
class MemoryBucket implements SessionBucket {
  readonly written: string[] = [];
  private readonly queue: SessionEntry[] = [];
  private wake: (() => void) | undefined;

  async put(key: string, value: string): Promise<void> {
    this.written.push(`PUT ${key.slice(0, 8)}`);
    this.push({ key, operation: 'PUT', string: () => value });
  }

  async delete(key: string): Promise<void> {
    this.written.push(`DEL ${key.slice(0, 8)}`);
    this.push({ key, operation: 'DEL', string: () => '' });
  }

  /** Another node (or anyone on the bus) writes an entry. */
  push(entry: SessionEntry): void {
    this.queue.push(entry);
    this.wake?.();
  }

  async watch(): Promise<AsyncIterable<SessionEntry>> {
    const bucket = this;
    return {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const entry = bucket.queue.shift();
          if (entry) {
            yield entry;
            continue;
          }
          await new Promise<void>((resolve) => {
            bucket.wake = resolve;
          });
        }
      },
    };
  }

  /** Resolves once every pushed entry was taken by the watch. */
  async drained(): Promise<void> {
    for (let i = 0; i < 100 && this.queue.length > 0; i++) await new Promise(setImmediate);
    await new Promise(setImmediate);
    assert.equal(this.queue.length, 0, 'the watch took every entry');
  }
}

function setup() {
  const { log, lines } = capturedLog();
  const logins = new LoginSessions({ ttlMs: 60_000, maxSessions: 100 });
  const bucket = new MemoryBucket();
  return { lines, log, logins, bucket };
}

const digestOf = (token: string) => createHash('sha256').update(token).digest('hex');

describe('followSessions', () => {
  it('writes sessions started and ended here under their digest, never their token', async () => {
    const { log, logins, bucket } = setup();
    await followSessions(bucket, logins, log);
    const session = logins.create('alice');
    logins.delete(session.token);
    assert.deepEqual(bucket.written, [
      `PUT ${digestOf(session.token).slice(0, 8)}`,
      `DEL ${digestOf(session.token).slice(0, 8)}`,
    ]);
  });

  it('takes in other nodes’ sessions and forgets them when they end', async () => {
    const { log, logins, bucket } = setup();
    await followSessions(bucket, logins, log);
    const forgotten: string[] = [];
    logins.onForgotten = (digest) => forgotten.push(digest);
    const value = JSON.stringify({ user: 'bob', expiresAt: Date.now() + 10_000 });
    bucket.push({ key: digestOf('remote'), operation: 'PUT', string: () => value });
    await bucket.drained();
    assert.equal(logins.get('remote')?.user, 'bob');
    bucket.push({ key: digestOf('remote'), operation: 'DEL', string: () => '' });
    await bucket.drained();
    assert.equal(logins.get('remote'), undefined);
    assert.deepEqual(forgotten, [digestOf('remote')]);
  });

  it('skips entries that are not sessions, and one that throws, and goes on watching', async () => {
    const { lines, log, logins, bucket } = setup();
    await followSessions(bucket, logins, log);
    logins.onForgotten = () => {
      throw new Error('a socket refused to close');
    };
    const later = JSON.stringify({ user: 'carol', expiresAt: Date.now() + 10_000 });
    bucket.push({ key: digestOf('x'), operation: 'PUT', string: () => '{not json' });
    bucket.push({ key: digestOf('y'), operation: 'PUT', string: () => 'null' });
    bucket.push({ key: digestOf('z'), operation: 'PUT', string: () => '{"user":1}' });
    logins.adopt({ digest: digestOf('gone'), user: 'dave', expiresAt: Date.now() + 10_000 });
    bucket.push({ key: digestOf('gone'), operation: 'DEL', string: () => '' });
    bucket.push({ key: digestOf('later'), operation: 'PUT', string: () => later });
    await bucket.drained();
    assert.equal(logins.get('later')?.user, 'carol', 'the watch went on past the bad entries');
    assert.equal(logins.size, 1);
    assert.ok(
      lines.some((line) => line.includes('a socket refused to close')),
      lines.join(''),
    );
    assert.ok(!lines.some((line) => line.includes('stopped taking in shared sessions')));
  });
});
