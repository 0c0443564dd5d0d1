/**
 * GET /mjpeg/<id>: the fallback for clients without WebSocket, one multipart/x-mixed-replace
 * response per camera. Like a WebSocket viewer it goes through a latest-wins slot (one waiting
 * frame, a newer one replaces it), and a client that takes nothing for `slowViewerMs` while a
 * frame waits is cut off: kernel buffers of a reader that stopped must not stay pinned.
 */
import type { ServerResponse } from 'node:http';
import type { Principal } from '../access/access.js';
import type { Holders } from '../access/holders.js';
import { mayWatch } from '../access/scope.js';
import type { Camera, Frame } from '../camera/camera.js';
import type { Log } from '../common/log.js';
import type { Refusals } from '../guard/refusals.js';
import type { Hub, Viewer } from '../hub/hub.js';
import { LatestWins } from '../hub/latest-wins.js';
import { MJPEG_BOUNDARY } from '../protocol/wire.js';

export interface MjpegOptions {
  hub: Hub;
  /** Streams by the principal they were let in on: ended when its credential goes. */
  holders: Holders;
  refusals: Refusals;
  /** Frames wait (latest wins) while the response buffers at least this many bytes. */
  maxBufferedBytes: number;
  /** A response that drains nothing for this long while a frame waits is closed. */
  slowViewerMs: number;
  now: () => number;
  log: Log;
}

/**
 * Streams camera `camera` to `res` until the client goes away, or until `principal` (who asked)
 * may no longer watch it.
 */
export function serveMjpeg(
  options: MjpegOptions,
  camera: Camera,
  res: ServerResponse,
  principal: Principal,
): void {
  const { hub, maxBufferedBytes } = options;
  const slot = new LatestWins((of) => hub.deliveryOf(of));
  let blockedSince: number | undefined;
  const write = (_camera: Camera, frame: Frame) => {
    res.cork();
    res.write(
      `--${MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${frame.data.length}\r\n\r\n`,
    );
    res.write(frame.data);
    res.write('\r\n');
    res.uncork();
  };
  const takesMore = () => res.writableLength < maxBufferedBytes;
  const viewer: Viewer = {
    sendFrame(frame) {
      if (slot.size === 0 && takesMore()) {
        write(camera, frame);
        slot.sent(camera);
        return;
      }
      slot.hold(camera, frame);
      const now = options.now();
      blockedSince ??= now;
      if (now - blockedSince < options.slowViewerMs) return;
      options.refusals.hit(
        'slow-viewer',
        `MJPEG viewer too slow: its buffer did not drain for ${Math.round(options.slowViewerMs / 1000)} s: closing`,
        { camera: camera.id, buffered: res.writableLength },
      );
      res.destroy();
    },
    sendState() {},
    // A reload removed the camera: end the stream (it would stay open, silent, for good).
    streamGone: () => end('camera removed'),
  };
  res.on('drain', () => {
    blockedSince = undefined;
    slot.flush(takesMore, write);
  });
  const end = (reason: string) => {
    options.log.info({ camera: camera.id, user: principal.user, reason }, 'MJPEG stream ended');
    res.destroy();
  };
  const held = options.holders.hold(principal, {
    revoke: (reason) => end(reason),
    rescope: (now) => {
      if (!mayWatch(now, camera.id)) end('camera no longer allowed');
    },
  });
  res.on('close', () => {
    held.release();
    slot.dropAll();
    hub.unsubscribe(viewer, [camera.id]);
  });
  // A stream may go quiet for long (a camera retrying): no idle timeout on this connection.
  res.socket?.setTimeout(0);
  res.writeHead(200, {
    'Content-Type': `multipart/x-mixed-replace; boundary=${MJPEG_BOUNDARY}`,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  hub.subscribe(viewer, [camera.id]);
}
