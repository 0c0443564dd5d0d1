/** CPU time and output of processes from /proc, for side-by-side figures over one window. */
import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { descendantPids } from '../../support/processes.js';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  return ticksPerSecond;
}

/** utime + stime + cutime + cstime of one process in clock ticks; 0 once it is gone. */
function processTicks(pid: number, fieldIndexes = [11, 12, 13, 14]): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0; // exited between listing and reading
  }
  // Fields after the ')' that closes comm: state is field 3, so utime (14) is index 11.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fieldIndexes.reduce((sum, index) => sum + Number(fields[index] ?? 0), 0);
}

/** CPU seconds used so far by the process itself (utime + stime, no children). */
export function ownCpuSeconds(pid: number): number {
  return processTicks(pid, [11, 12]) / clockTicks();
}

/**
 * CPU seconds used so far by `root` and every live descendant. A child that exited and was
 * reaped is in its parent's cutime/cstime, so the difference of two readings covers every
 * process that ran in between (a descendant reaped by no one in the tree is lost, which the
 * trees measured here do not have).
 */
export function treeCpuSeconds(root: number): number {
  const ticks = [root, ...descendantPids(root)].reduce((sum, pid) => sum + processTicks(pid), 0);
  return ticks / clockTicks();
}

/**
 * Bytes the process has handed to write()-like calls so far (`wchar` in /proc/<pid>/io): for a
 * server whose only sizeable writes are its sockets, what it sent to its clients.
 */
export function writtenBytes(pid: number): number {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return Number(/^wchar: (\d+)$/m.exec(io)?.[1] ?? Number.NaN);
}

/** Direct children of `parent` whose command line contains `substring`. */
export function childrenMatching(parent: number, substring: string): number[] {
  return descendantPids(parent).filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      return ppid === parent && cmdline.includes(substring);
    } catch {
      return false;
    }
  });
}

/** Live descendants of `root` running the executable `exe` (e.g. /usr/bin/ffmpeg). */
export function descendantsRunning(root: number, exe: string): number[] {
  return descendantPids(root).filter((pid) => {
    try {
      // /proc/<pid>/exe names the binary actually running, whatever argv[0] says.
      return readlinkSync(`/proc/${pid}/exe`) === exe;
    } catch {
      return false;
    }
  });
}
