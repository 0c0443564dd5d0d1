/**
 * GET /mjpeg/<id>: the fallback for clients without WebSocket, one multipart/x-mixed-replace
 * response per camera. Like a socket session it holds at most one pending frame.
 */
import type { ServerResponse } from 'node:http';
import type { Camera, Frame } from '../camera/camera.js';
import type { Hub, Viewer } from '../hub/hub.js';

const BOUNDARY = 'camplexmjpeg';

/** Streams camera `camera` to `res` until the client goes away. */
export function serveMjpeg(
  hub: Hub,
  camera: Camera,
  res: ServerResponse,
  maxBufferedBytes: number,
): void {
  let pending: Frame | undefined;
  const write = (frame: Frame) => {
    res.cork();
    res.write(
      `--${BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${frame.jpeg.length}\r\n\r\n`,
    );
    res.write(frame.jpeg);
    res.write('\r\n');
    res.uncork();
  };
  const viewer: Viewer = {
    sendFrame(frame) {
      if (res.writableLength < maxBufferedBytes) write(frame);
      else pending = frame;
    },
    sendState() {},
  };
  res.on('drain', () => {
    if (pending && res.writableLength < maxBufferedBytes) {
      const frame = pending;
      pending = undefined;
      write(frame);
    }
  });
  res.on('close', () => {
    pending = undefined;
    hub.unsubscribe(viewer, [camera.id]);
  });
  res.writeHead(200, {
    'Content-Type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  hub.subscribe(viewer, [camera.id]);
}
