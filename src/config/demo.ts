/** Built-in demo cameras: ffmpeg lavfi test sources, each visibly different, no camera needed. */
import type { CameraConfig } from './schema.js';

// Three patterns against a four-column grid, so neighbours differ in every direction.
const PATTERNS = ['testsrc2', 'smptehdbars', 'testsrc'] as const;

/** The lavfi pattern and hue of demo camera `n` (1-based), so each tile looks different. */
export function demoLook(n: number): { pattern: string; hue: number } {
  const pattern = PATTERNS[(n - 1) % PATTERNS.length] ?? 'testsrc2';
  const hue = ((n - 1) * 137) % 360; // golden-angle steps keep neighbours apart
  return { pattern, hue };
}

/** `count` demo cameras with ids demo-01, demo-02, ... */
export function demoCameras(count: number): CameraConfig[] {
  return Array.from({ length: count }, (_, i) => {
    const n = i + 1;
    const id = `demo-${String(n).padStart(2, '0')}`;
    return { id, name: `Demo ${n}`, url: `demo:${n}`, fps: 10, width: 480 };
  });
}
