/**
 * The dashboard: a grid of tiles fed by ONE CameraSocket. A tile is subscribed while streaming
 * is on, the tile is on screen and the tab is visible; everything else costs nothing. Each
 * camera comes as H.264 / H.265 when this page plays its exact codec (WebCodecs, else Media
 * Source Extensions: see decoder-ladder.ts), else as JPEG, and falls back to JPEG for good when
 * its video keeps failing to play. A camera with a sub-stream is shown in the grid from it
 * (`<id>@sub`), which is what sub-streams are for.
 */
import { cameraOfStream, SUBSTREAM_SUFFIX } from '../common/camera-id.js';
import type { CameraInfo, MediaFormat } from '../protocol/wire.js';
import { CameraSocket } from './camera-socket.js';
import { pageVideo } from './decoder-ladder.js';
import { HttpFallback } from './http-fallback.js';
import { Tile } from './tile.js';

/** Failed connects in a row before visible tiles are fed over plain HTTP. */
const FALLBACK_AFTER_FAILURES = 3;
/**
 * Cameras of a page that get a Media Source player; the rest get JPEG. Chromium refuses the
 * 1001st media player of a page on the desktop (measured) and allows far fewer on phones; past
 * a few dozen live players a phone's decoders are the limit anyway.
 */
const MAX_MSE_PLAYERS = 64;

const STREAMING_KEY = 'camplex.streaming';

const grid = requireElement('#grid');
const status = requireElement('#status');
const streamAll = requireElement('#stream-all') as HTMLButtonElement;
const stopAll = requireElement('#stop-all') as HTMLButtonElement;

const tiles = new Map<string, Tile>();
/** The stream each camera's tile shows: its sub-stream when it has one. */
const gridStreams = new Map<string, string>();
const onScreen = new Set<string>();
let streaming = localStorage.getItem(STREAMING_KEY) === 'on';
let connected = false;
let failures = 0;
const fallback = new HttpFallback(tiles);
/** How this page plays video, if it can. */
const video = await pageVideo();
/**
 * Cameras that get JPEG: their exact codec is not played here, playing kept failing, or they
 * are past MAX_MSE_PLAYERS.
 */
const jpegOnly = new Set<string>();
/** Streams already asked about (codec string, B-frames or not), and the answer. */
const checked = new Map<string, Promise<boolean>>();

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
  onHello: (cameras) => showCameras(cameras),
  onState: (info) => {
    const shown = gridInfo(info);
    tiles.get(info.id)?.setState(shown);
    checkCodec(shown);
    renderStatus();
  },
  onFrame: (stream, frame) => tiles.get(cameraOfStream(stream))?.push(frame),
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

function showCameras(cameras: CameraInfo[]): void {
  for (const camera of cameras) {
    const info = gridInfo(camera);
    gridStreams.set(info.id, camera.substream ? info.id + SUBSTREAM_SUFFIX : info.id);
    const existing = tiles.get(info.id);
    if (existing) {
      existing.setState(info);
      continue;
    }
    const tile = new Tile(info, video?.decoder, (id, reason) => {
      console.warn(`camplex: ${id}: video keeps failing to play (${reason}): using JPEG`);
      toJpeg(id);
    });
    if (video?.decoder === 'mse' && tiles.size >= MAX_MSE_PLAYERS) jpegOnly.add(info.id);
    checkCodec(info);
    tiles.set(info.id, tile);
    grid.append(tile.element);
    visibility.observe(tile.element);
  }
  renderStatus();
}

function updateSubscriptions(): void {
  const wanted = streaming && !document.hidden ? [...onScreen] : [];
  socket.want(
    wanted.map((id) => gridStreams.get(id) ?? id),
    formatsOf,
  );
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

function renderStatus(failures = 0): void {
  if (!connected) {
    status.textContent =
      failures > 0 ? `reconnecting (attempt ${failures + 1})...` : 'connecting...';
    status.dataset.connection = 'down';
    return;
  }
  const live = [...grid.querySelectorAll('[data-state="live"]')].length;
  status.textContent = `connected - ${tiles.size} cameras, ${live} live`;
  status.dataset.connection = 'up';
}

/** What `stream` is asked for in, best first: its video when played here, JPEG always. */
function formatsOf(stream: string): MediaFormat[] {
  if (!video || jpegOnly.has(cameraOfStream(stream))) return ['jpeg'];
  return [...video.formats, 'jpeg'];
}

/** What a camera's tile shows: its sub-stream's state and codec, under the camera's id and name. */
function gridInfo(info: CameraInfo): CameraInfo {
  return info.substream ? { ...info.substream, id: info.id, name: info.name } : info;
}

/** Once a camera's exact codec string is known, asks the page's decoder whether it plays it. */
function checkCodec(info: CameraInfo): void {
  const codecString = info.codecString;
  if (codecString === undefined || !video || jpegOnly.has(info.id)) return;
  const key = `${codecString}${info.bframes ? ' with B-frames' : ''}`;
  let answer = checked.get(key);
  if (!answer) {
    answer = video.plays({ codecString, bframes: info.bframes });
    checked.set(key, answer);
  }
  void answer.then((supported) => {
    if (!supported) toJpeg(info.id);
  });
}

function toJpeg(id: string): void {
  if (jpegOnly.has(id)) return;
  jpegOnly.add(id);
  tiles.get(id)?.close();
  updateSubscriptions();
}

function requireElement(selector: string): HTMLElement {
  const element = document.querySelector<HTMLElement>(selector);
  if (!element) throw new Error(`dashboard markup lacks ${selector}`);
  return element;
}

streamAll.addEventListener('click', () => setStreaming(true));
stopAll.addEventListener('click', () => setStreaming(false));
document.addEventListener('visibilitychange', updateSubscriptions);
window.addEventListener('pagehide', () => socket.close());
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
  .then((body: { cameras: CameraInfo[] } | undefined) => {
    if (body && tiles.size === 0) showCameras(body.cameras);
  })
  .catch(() => {});
