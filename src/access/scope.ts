/**
 * What a principal may watch: every camera, or for a token limited to some cameras only those
 * (and their sub-streams). Anything else is answered as if it did not exist.
 */
import { cameraOfStream } from '../common/camera-id.js';
import type { Principal } from './access.js';

/** Whether `principal` may watch `stream` (a camera id, or `<id>@sub`). */
export function mayWatch(principal: Principal | undefined, stream: string): boolean {
  return !principal?.cameras || principal.cameras.has(cameraOfStream(stream));
}

/** The groups with only the cameras `may` allows; groups left empty are left out. */
export function visibleGroups(
  groups: Readonly<Record<string, readonly string[]>>,
  may: (id: string) => boolean,
): Record<string, string[]> {
  const visible: Record<string, string[]> = {};
  for (const [name, ids] of Object.entries(groups)) {
    const allowed = ids.filter(may);
    if (allowed.length > 0) visible[name] = allowed;
  }
  return visible;
}
