/**
 * camplex's browser client, for pages other than the dashboard (`camplex/client`, and served by
 * every camplex as /client.js): importing it defines `<camplex-camera>` and `<camplex-grid>`.
 * CameraSocket is the one-socket client underneath, for pages that draw frames themselves.
 * See docs/CLIENT.md.
 */
import { defineCamplexElements } from './camera-elements.js';

export type { CameraInfo, MediaFormat, VideoUnit } from '../protocol/wire.js';
export { CamplexCamera, CamplexGrid, defineCamplexElements } from './camera-elements.js';
export {
  CameraSocket,
  type CameraSocketHandlers,
  type CameraSocketOptions,
} from './camera-socket.js';
export { Connection } from './connection.js';
export type { PictureEvent } from './tile.js';

defineCamplexElements();
