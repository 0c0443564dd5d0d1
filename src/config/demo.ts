/** Built-in demo cameras: ffmpeg test patterns (see ffmpeg/args.ts), no camera needed. */

/** `count` demo cameras as config entries, with ids demo-01, demo-02, ... */
export function demoCameras(count: number) {
  return Array.from({ length: count }, (_, i) => {
    const n = i + 1;
    const id = `demo-${String(n).padStart(2, '0')}`;
    return { id, name: `Demo ${n}`, url: `demo:${n}`, fps: 10, width: 480 };
  });
}
