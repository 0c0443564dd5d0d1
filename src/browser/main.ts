/**
 * The dashboard: a wall of tiles fed by ONE CameraSocket. A tile is subscribed while streaming
 * is on, the tile is on screen (this page of the wall, or the one camera focused) and the tab is
 * visible; everything else costs nothing. Each camera comes in the best format this page plays
 * (formats.ts). In the grid a camera with a sub-stream is shown from it (`<id>@sub`), which is
 * what sub-streams are for; focused, from its main stream.
 */
import { cameraOfStream, SUBSTREAM_SUFFIX } from '../common/camera-id.js';
import type { CameraInfo } from '../protocol/wire.js';
import { CameraSocket } from './camera-socket.js';
import { pageVideo } from './decoder-ladder.js';
import { Formats } from './formats.js';
import { HttpFallback } from './http-fallback.js';
import { Tile } from './tile.js';
import { Wall } from './wall.js';
import { WallChoices } from './wall-choices.js';

/** Failed connects in a row before visible tiles are fed over plain HTTP. */
const FALLBACK_AFTER_FAILURES = 3;
const STREAMING_KEY = 'camplex.streaming';

const status = requireElement('#status');
const streamAll = requireElement('#stream-all') as HTMLButtonElement;
const stopAll = requireElement('#stop-all') as HTMLButtonElement;
const back = requireElement('#back') as HTMLButtonElement;
const fullscreen = requireElement('#fullscreen') as HTMLButtonElement;

const tiles = new Map<string, Tile>();
/** Every camera as the server last described it (with its sub-stream). */
const cameras = new Map<string, CameraInfo>();
/** The stream each tile is showing, to notice when focus switches it. */
const showing = new Map<string, string>();
const onScreen = new Set<string>();
let streaming = localStorage.getItem(STREAMING_KEY) === 'on';
let connected = false;
let failures = 0;
const fallback = new HttpFallback(tiles);
const formats = new Formats(await pageVideo(), (id) => {
  tiles.get(id)?.close();
  updateSubscriptions();
});
const wall = new Wall({ grid: requireElement('#grid'), pager: requireElement('#pager') }, () =>
  onWallChange(),
);
const choices = new WallChoices(requireElement('#groups'), requireElement('#arrange'), () =>
  layOut(),
);

const visibility = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const id = (entry.target as HTMLElement).dataset.camera;
    if (id === undefined) continue;
    if (entry.isIntersecting) onScreen.add(id);
    else onScreen.delete(id);
  }
  updateSubscriptions();
});

const socket = new CameraSocket(CameraSocket.urlFor(location), {
  onHello: (list, groups) => showCameras(list, groups),
  onState: (info) => {
    cameras.set(info.id, info);
    refreshTile(info.id);
    renderStatus();
  },
  onFrame: (stream, frame) => {
    const id = cameraOfStream(stream);
    if (showing.get(id) === stream) tiles.get(id)?.push(frame);
  },
  onConnection: (open, failedInARow) => {
    connected = open;
    failures = failedInARow;
    renderStatus();
    updateSubscriptions();
  },
  onError: (code, message) => {
    status.textContent = `server: ${message} (${code})`;
  },
});

function showCameras(list: CameraInfo[], groups?: Record<string, string[]>): void {
  // hello comes again after a config reload: cameras no longer there go away.
  const listed = new Set(list.map((camera) => camera.id));
  for (const [id, tile] of tiles) {
    if (listed.has(id)) continue;
    tile.close();
    tile.element.remove();
    visibility.unobserve(tile.element);
    tiles.delete(id);
    cameras.delete(id);
    showing.delete(id);
    onScreen.delete(id);
  }
  for (const camera of list) {
    cameras.set(camera.id, camera);
    if (!tiles.has(camera.id)) {
      const tile = new Tile(shownInfo(camera), formats.decoder, (id, reason) => {
        console.warn(`camplex: ${id}: video keeps failing to play (${reason}): using JPEG`);
        formats.toJpeg(id);
      });
      formats.add(camera.id);
      tiles.set(camera.id, tile);
      visibility.observe(tile.element);
    }
    refreshTile(camera.id);
  }
  choices.setCameras(list, groups);
  layOut();
  renderStatus();
}

/** Puts the cameras chosen (group, order, hidden) on the wall. */
function layOut(): void {
  const ids = choices.shown([...cameras.keys()]);
  wall.setCameras(
    ids.flatMap((id) => {
      const tile = tiles.get(id);
      return tile ? [{ id, element: tile.element, aspect: aspectOf(id) }] : [];
    }),
  );
  for (const [id, tile] of tiles) if (!ids.includes(id)) tile.element.remove();
}

/** The stream a camera's tile shows: its sub-stream in the grid, its main stream focused. */
function streamOf(id: string): string {
  const info = cameras.get(id);
  return info?.substream && wall.focused !== id ? id + SUBSTREAM_SUFFIX : id;
}

/** What a camera's tile shows: the state and codec of the stream it shows, under its name. */
function shownInfo(info: CameraInfo): CameraInfo {
  return streamOf(info.id) === info.id || !info.substream
    ? info
    : { ...info.substream, id: info.id, name: info.name };
}

function aspectOf(id: string): number | undefined {
  const info = cameras.get(id);
  const shown = info && shownInfo(info);
  return shown?.width && shown.height ? shown.width / shown.height : undefined;
}

/** Brings a tile up to date with its camera, and starts it afresh when its stream changed. */
function refreshTile(id: string): void {
  const info = cameras.get(id);
  const tile = tiles.get(id);
  if (!info || !tile) return;
  const stream = streamOf(id);
  if (showing.has(id) && showing.get(id) !== stream) tile.close(); // another stream's decoder
  showing.set(id, stream);
  const shown = shownInfo(info);
  tile.setState(shown);
  formats.check(shown);
}

function onWallChange(): void {
  for (const id of tiles.keys()) refreshTile(id);
  back.hidden = wall.focused === undefined;
  updateSubscriptions();
}

function updateSubscriptions(): void {
  const wanted = streaming && !document.hidden ? [...onScreen] : [];
  socket.want(
    wanted.map((id) => streamOf(id)),
    (stream) => formats.of(stream),
  );
  for (const [id, tile] of tiles) tile.setWanted(wanted.includes(id));
  // While the socket is down for good, keep the visible tiles alive over HTTP; back to the
  // socket as soon as it opens.
  const overHttp = !connected && failures >= FALLBACK_AFTER_FAILURES;
  fallback.show(overHttp ? wanted : []);
  if (!overHttp) for (const tile of tiles.values()) tile.setTransport('socket');
  streamAll.disabled = streaming;
  stopAll.disabled = !streaming;
}

function setStreaming(on: boolean): void {
  streaming = on;
  localStorage.setItem(STREAMING_KEY, on ? 'on' : 'off');
  updateSubscriptions();
}

function renderStatus(): void {
  if (!connected) {
    status.textContent =
      failures > 0 ? `reconnecting (attempt ${failures + 1})...` : 'connecting...';
    status.dataset.connection = 'down';
    return;
  }
  const live = [...cameras.values()].filter((info) => shownInfo(info).state === 'live').length;
  status.textContent = `connected - ${cameras.size} cameras, ${live} live`;
  status.dataset.connection = 'up';
}

function requireElement(selector: string): HTMLElement {
  const element = document.querySelector<HTMLElement>(selector);
  if (!element) throw new Error(`dashboard markup lacks ${selector}`);
  return element;
}

streamAll.addEventListener('click', () => setStreaming(true));
stopAll.addEventListener('click', () => setStreaming(false));
back.addEventListener('click', () => wall.focus(undefined));
fullscreen.addEventListener('click', () => wall.toggleFullscreen());
fullscreen.hidden = !document.fullscreenEnabled;
document.addEventListener('visibilitychange', updateSubscriptions);
window.addEventListener('pagehide', () => socket.close());
// Pictures per second and staleness, for every tile at once.
setInterval(() => {
  for (const tile of tiles.values()) tile.tick();
}, 1000);
updateSubscriptions();
socket.connect();
// Signed in with a password: offer to sign out.
fetch('/api/session')
  .then((response) => (response.ok ? response.json() : undefined))
  .then((session: { user: string; via: string } | undefined) => {
    if (session?.via !== 'session') return;
    requireElement('#user').textContent = `(${session.user})`;
    requireElement('#logout').hidden = false;
  })
  .catch(() => {});
// The camera list also comes over plain HTTP, so the grid appears even when the socket cannot.
fetch('/api/cameras')
  .then((response) => (response.ok ? response.json() : undefined))
  .then((body: { cameras: CameraInfo[]; groups?: Record<string, string[]> } | undefined) => {
    if (body && tiles.size === 0) showCameras(body.cameras, body.groups);
  })
  .catch(() => {});
