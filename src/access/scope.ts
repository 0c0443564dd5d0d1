/**
 * What a principal may do: watch every camera, or for a scoped user or token only some (and
 * their sub-streams); anything else is answered as if it did not exist. Moving a PTZ camera is
 * a right of its own, on top of watching it.
 */
import { cameraOfStream } from '../common/camera-id.js';
import type { Principal } from './access.js';

/** What a configured user or token may do: `cameras` undefined means every camera. */
export interface Scope {
  readonly cameras?: readonly string[];
  readonly ptz: boolean;
}

/** Whether `principal` may move camera `id` (pan, tilt, zoom, presets). */
export function mayMove(principal: Principal | undefined, id: string): boolean {
  return principal?.ptz === true && mayWatch(principal, id);
}

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
