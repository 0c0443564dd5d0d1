/**
 * The dashboard: a grid of tiles fed by ONE CameraSocket. A tile is subscribed while streaming
 * is on, the tile is on screen and the tab is visible; everything else costs nothing.
 */
import type { CameraInfo } from '../protocol/wire.js';
import { CameraSocket } from './camera-socket.js';
import { Tile } from './tile.js';

const STREAMING_KEY = 'camplex.streaming';

const grid = requireElement('#grid');
const status = requireElement('#status');
const streamAll = requireElement('#stream-all') as HTMLButtonElement;
const stopAll = requireElement('#stop-all') as HTMLButtonElement;

const tiles = new Map<string, Tile>();
const onScreen = new Set<string>();
let streaming = localStorage.getItem(STREAMING_KEY) === 'on';
let connected = false;

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
    tiles.get(info.id)?.setState(info);
    renderStatus();
  },
  onFrame: (camera, jpeg) => tiles.get(camera)?.push(jpeg),
  onConnection: (open, failures) => {
    connected = open;
    renderStatus(failures);
  },
  onError: (code, message) => {
    status.textContent = `server: ${message} (${code})`;
  },
});

function showCameras(cameras: CameraInfo[]): void {
  for (const info of cameras) {
    const existing = tiles.get(info.id);
    if (existing) {
      existing.setState(info);
      continue;
    }
    const tile = new Tile(info);
    tiles.set(info.id, tile);
    grid.append(tile.element);
    visibility.observe(tile.element);
  }
  renderStatus();
}

function updateSubscriptions(): void {
  socket.want(streaming && !document.hidden ? onScreen : []);
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
