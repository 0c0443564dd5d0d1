/**
 * The dashboard: a wall of tiles of one camplex (connection.ts, shared with the embeddable
 * elements: one socket, formats, JPEG switches, HTTP fallback). A tile is watched while it is
 * on screen (this page of the wall, or the one camera focused) and the tab is visible, and
 * streaming is on (Stream All) or it is the camera focused; everything else costs nothing. In
 * the grid a camera with a sub-stream is shown from it (`<id>@sub`), which is what sub-streams
 * are for; focused, from its main stream.
 * Tiles are silent: the focused camera offers Unmute (M) when it has sound this page plays, one
 * camera sounds at a time, and leaving it (Esc, Back, another camera) mutes it. A camera this
 * page may move shows its pan, tilt and zoom controls when focused (ptz-controls.ts).
 */
import type { CameraInfo } from '../protocol/wire.js';
import { Connection } from './connection.js';
import { OnScreen } from './on-screen.js';
import { PtzControls } from './ptz-controls.js';
import { isShortcut } from './shortcuts.js';
import type { Tile } from './tile.js';
import { Wall } from './wall.js';
import { WallChoices } from './wall-choices.js';

const STREAMING_KEY = 'camplex.streaming';

const status = requireElement('#status');
const streamAll = requireElement('#stream-all') as HTMLButtonElement;
const stopAll = requireElement('#stop-all') as HTMLButtonElement;
const back = requireElement('#back') as HTMLButtonElement;
const soundButton = requireElement('#sound') as HTMLButtonElement;
const fullscreen = requireElement('#fullscreen') as HTMLButtonElement;

const tiles = new Map<string, Tile>();
let streaming = localStorage.getItem(STREAMING_KEY) === 'on';
const connection = await Connection.for(location.origin);
const cameras = connection.cameras;
const wall = new Wall({ grid: requireElement('#grid'), pager: requireElement('#pager') }, () =>
  onWallChange(),
);
const choices = new WallChoices(requireElement('#groups'), requireElement('#arrange'), () =>
  layOut(),
);
const onScreen = new OnScreen(() => updateSubscriptions());
const ptzControls = new PtzControls(requireElement('#ptz'), (command) => connection.ptz(command));

/** The camera list and groups last laid out (a state change alone needs no new layout). */
let laidOut = '';

/** The camera list, a camera's state or the connection changed. */
function onChange(): void {
  const list = JSON.stringify([[...cameras.keys()], connection.groups]);
  // Not before a list came: the remembered group is checked against the config's groups.
  if (connection.listed && list !== laidOut) {
    laidOut = list;
    showCameras();
  }
  for (const id of tiles.keys()) refreshTile(id);
  checkSignIn();
  renderStatus();
  renderSound();
  renderPtz();
  updateSubscriptions();
}

/** Tiles for the cameras listed now; those no longer listed go away. */
function showCameras(): void {
  // hello comes again after a config reload: cameras no longer there go away.
  for (const [id, tile] of tiles) {
    if (cameras.has(id)) continue;
    connection.unwatch(tile);
    tile.close();
    tile.element.remove();
    onScreen.unobserve(tile.element);
    tiles.delete(id);
  }
  for (const id of cameras.keys()) {
    if (tiles.has(id)) continue;
    const tile = connection.tile(id);
    tiles.set(id, tile);
    onScreen.observe(tile.element);
  }
  choices.setCameras([...cameras.values()], connection.groups);
  layOut();
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
  return wall.focused === id ? id : connection.gridStream(id);
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

/** Brings a tile's caption up to date with its camera (watched or not). */
function refreshTile(id: string): void {
  const info = cameras.get(id);
  const tile = tiles.get(id);
  if (info && tile) tile.setState(shownInfo(info));
}

function onWallChange(): void {
  for (const id of tiles.keys()) refreshTile(id);
  back.hidden = wall.focused === undefined;
  // Sound follows the focused camera: leaving it mutes it.
  if (connection.soundStream !== undefined && connection.soundStream !== wall.focused) {
    connection.setSound(undefined);
  }
  renderSound();
  renderPtz();
  updateSubscriptions();
}

/** The focused camera's movement controls, when the server offers them to this page. */
function renderPtz(): void {
  const focused = wall.focused;
  ptzControls.show(focused, focused === undefined ? undefined : cameras.get(focused)?.ptz);
}

/** The page's one AudioContext, made (or woken) in a user's gesture. */
let audioContext: AudioContext | undefined;

/** Unmutes the focused camera, or mutes it; called from a click or a key (a user's gesture). */
function toggleSound(): void {
  const focused = wall.focused;
  if (focused === undefined || !connection.hasSound(focused)) return;
  if (connection.soundStream === focused) {
    connection.setSound(undefined);
  } else {
    audioContext ??= new AudioContext({ latencyHint: 'interactive' });
    void audioContext.resume().catch(() => {});
    connection.setSound(focused, audioContext);
  }
  renderSound();
}

function renderSound(): void {
  const focused = wall.focused;
  soundButton.hidden = focused === undefined || !connection.hasSound(focused);
  const on = focused !== undefined && connection.soundStream === focused;
  soundButton.textContent = on ? 'Mute' : 'Unmute';
  soundButton.setAttribute('aria-pressed', String(on));
}

function updateSubscriptions(): void {
  for (const [id, tile] of tiles) {
    // Opening one camera asks for it: it plays whether or not the wall streams.
    if ((streaming || wall.focused === id) && onScreen.has(tile.element)) {
      connection.watch(tile, streamOf(id));
    } else connection.unwatch(tile);
  }
  streamAll.disabled = streaming;
  stopAll.disabled = !streaming;
}

function setStreaming(on: boolean): void {
  streaming = on;
  localStorage.setItem(STREAMING_KEY, on ? 'on' : 'off');
  updateSubscriptions();
}

/** The connection's failures when its sign-in was last checked (undefined: while it is up). */
let checkedAt: number | undefined;
/**
 * The page is going elsewhere (Sign out posts its form, which ends the session and so the
 * socket): a check then would start a navigation of its own and abort that one.
 */
let leaving = false;
addEventListener('beforeunload', () => {
  leaving = true;
});
document.addEventListener('submit', () => {
  leaving = true;
});

/**
 * A dropped socket may be this page's sign-in ending (logged out elsewhere, the password changed
 * or the user removed by a reload, sign-in added where access was open): the server then
 * refuses every reconnect, so the page goes to the login page. Checked once per drop and per
 * failed reconnect; a server that is down answers nothing and the page keeps trying.
 */
function checkSignIn(): void {
  if (connection.connected) {
    checkedAt = undefined;
    return;
  }
  if (leaving || checkedAt === connection.failures) return;
  checkedAt = connection.failures;
  fetch('/api/session', { cache: 'no-store' })
    .then((response) => {
      if (response.status === 401 && !leaving) location.assign('/login');
    })
    .catch(() => {});
}

function renderStatus(): void {
  if (!connection.connected) {
    const { failures } = connection;
    status.textContent =
      failures > 0 ? `reconnecting (attempt ${failures + 1})...` : 'connecting...';
    status.dataset.connection = 'down';
    return;
  }
  status.dataset.connection = 'up';
  if (connection.lastError !== undefined) {
    status.textContent = `server: ${connection.lastError}`;
    return;
  }
  const live = [...cameras.values()].filter((info) => shownInfo(info).state === 'live').length;
  status.textContent = `connected - ${cameras.size} cameras, ${live} live`;
}

function requireElement(selector: string): HTMLElement {
  const element = document.querySelector<HTMLElement>(selector);
  if (!element) throw new Error(`dashboard markup lacks ${selector}`);
  return element;
}

connection.onChange(onChange);
streamAll.addEventListener('click', () => setStreaming(true));
stopAll.addEventListener('click', () => setStreaming(false));
back.addEventListener('click', () => wall.focus(undefined));
soundButton.addEventListener('click', toggleSound);
document.addEventListener('keydown', (event) => {
  if ((event.key === 'm' || event.key === 'M') && isShortcut(event)) toggleSound();
});
fullscreen.addEventListener('click', () => wall.toggleFullscreen());
fullscreen.hidden = !document.fullscreenEnabled;
document.addEventListener('visibilitychange', updateSubscriptions);
// Pictures per second and staleness, for every tile at once (the connection ticks the watched).
setInterval(() => {
  for (const tile of tiles.values()) if (!connection.isWatching(tile)) tile.tick();
}, 1000);
onChange();
// Signed in with a password: offer to sign out.
fetch('/api/session')
  .then((response) => (response.ok ? response.json() : undefined))
  .then((session: { user: string; via: string } | undefined) => {
    if (session?.via !== 'session') return;
    requireElement('#user').textContent = `(${session.user})`;
    requireElement('#logout').hidden = false;
  })
  .catch(() => {});
