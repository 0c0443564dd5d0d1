/**
 * Connection caps that fit the process's descriptor limit: every connection, MJPEG response
 * and ffmpeg pipe is a file descriptor, and running out of them (EMFILE) fails everything at
 * once, cameras included. Node cannot read or raise the limit itself; Linux shows it in
 * /proc/self/limits, other systems through the shell's `ulimit -n`.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ConnectionCaps } from './connections.js';

/** Descriptors kept for what is not a connection: stdio, logs, listeners, DNS, TLS files. */
const RESERVED = 64;
/** Per camera: ffmpeg's stdout and stderr pipes, and room for a second process's pipes. */
const PER_CAMERA = 4;
/** Default cap per client address: a household behind one NAT address, several tabs each. */
export const DEFAULT_PER_ADDRESS = 64;

/** The soft limit on open descriptors, or undefined when it cannot be read. */
export function descriptorLimit(): number | undefined {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(
      readFileSync('/proc/self/limits', 'utf8'),
    );
    if (line) return line[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(line[1]);
  } catch {
    // not Linux
  }
  const shell = spawnSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8', timeout: 2000 });
  const text = shell.stdout?.trim() ?? '';
  if (text === 'unlimited') return Number.POSITIVE_INFINITY;
  const value = Number(text);
  return text !== '' && Number.isInteger(value) && value > 0 ? value : undefined;
}

/**
 * The caps to use: those configured, else the total that leaves room for `cameras` below
 * `limit` (at least 16) and the default per address (never above the total).
 */
export function connectionCaps(
  configured: { perAddress?: number | undefined; total?: number | undefined },
  limit: number | undefined,
  cameras: number,
): ConnectionCaps {
  const room = limit === undefined ? 1024 : limit;
  const fitted = Math.max(16, Math.min(1_000_000, room - RESERVED - PER_CAMERA * cameras));
  const total = configured.total ?? fitted;
  return { total, perAddress: configured.perAddress ?? Math.min(DEFAULT_PER_ADDRESS, total) };
}
