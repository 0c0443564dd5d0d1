/**
 * The benchmark's processes talk in JSON lines over pipes (commands on stdin, answers on
 * stdout). This cuts a text stream into its non-empty lines, however the pipe chunks it.
 */
import type { Readable } from 'node:stream';

export function onLines(stream: Readable, onLine: (line: string) => void): void {
  let partial = '';
  stream.setEncoding('utf8').on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') onLine(line);
  });
}
