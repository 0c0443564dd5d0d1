/**
 * Custom elements for pages that embed camplex: `<camplex-camera camera="id">` shows one camera,
 * `<camplex-grid>` every camera (or those listed in `cameras="a,b"`, or a config group in
 * `group="outside"`). Both draw with the dashboard's Tile and share one socket per camplex
 * (connection.ts); a tile is subscribed only while it is on screen and the tab is visible.
 *
 * Attributes: `server` (the camplex URL; default: where this script was loaded from), `token`
 * (a camplex token: needed on another origin, readable by anyone who loads the page, so give it
 * only the cameras the page shows), `stream` on `<camplex-camera>` (`main`, the default, or `sub`).
 */
import { SUBSTREAM_SUFFIX } from '../common/camera-id.js';
import { Connection } from './connection.js';
import { OnScreen } from './on-screen.js';
import type { Tile } from './tile.js';
import { TILE_STYLE } from './tile-style.js';

/** The camplex this script came from: the default `server`. */
const SCRIPT_SERVER = new URL('/', import.meta.url).href;

/** A shadow-root element that shows tiles of one camplex and feeds those on screen. */
abstract class CamplexElement extends HTMLElement {
  protected connection: Connection | undefined;
  protected readonly tiles = new Map<string, Tile>();
  private readonly onScreen = new OnScreen(() => this.feed());
  private readonly onVisibility = () => this.feed();
  private stopListening: (() => void) | undefined;
  protected readonly root: ShadowRoot;
  protected readonly box: HTMLElement;

  constructor() {
    super();
    this.root = this.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = TILE_STYLE;
    this.box = document.createElement('div');
    this.box.className = 'box';
    this.root.append(style, this.box);
  }

  connectedCallback(): void {
    this.start();
  }

  disconnectedCallback(): void {
    this.close();
  }

  attributeChangedCallback(): void {
    if (!this.isConnected) return;
    this.close();
    this.start();
  }

  /** Opens the element's connection; a bad `server` attribute is said in the console. */
  private start(): void {
    this.open().catch((error: unknown) => {
      console.warn(`camplex: <${this.localName}>: ${(error as Error).message}`);
    });
  }

  /** The camera ids to show, in order. */
  protected abstract ids(connection: Connection): string[];
  /** The stream a tile of camera `id` shows. */
  protected abstract streamOf(connection: Connection, id: string): string;

  private async open(): Promise<void> {
    const server = this.getAttribute('server') ?? SCRIPT_SERVER;
    const token = this.getAttribute('token') ?? undefined;
    const connection = await Connection.for(server, token);
    if (!this.isConnected) return;
    this.connection = connection;
    this.stopListening = connection.onChange(() => this.render());
    document.addEventListener('visibilitychange', this.onVisibility);
    this.render();
  }

  private close(): void {
    this.stopListening?.();
    this.stopListening = undefined;
    document.removeEventListener('visibilitychange', this.onVisibility);
    for (const tile of this.tiles.values()) {
      this.connection?.unwatch(tile);
      tile.close();
    }
    this.tiles.clear();
    this.onScreen.disconnect();
    this.box.replaceChildren();
    this.connection = undefined;
  }

  /** Makes a tile for every camera to show, in order, and drops the others. */
  private render(): void {
    const connection = this.connection;
    if (!connection) return;
    const ids = this.ids(connection);
    for (const [id, tile] of this.tiles) {
      if (ids.includes(id)) continue;
      connection.unwatch(tile);
      tile.close();
      this.onScreen.unobserve(tile.element);
      this.tiles.delete(id);
    }
    for (const id of ids) {
      if (this.tiles.has(id)) continue;
      const tile = connection.tile(id);
      this.tiles.set(id, tile);
      this.onScreen.observe(tile.element);
    }
    const elements = ids.flatMap((id) => this.tiles.get(id)?.element ?? []);
    const current = [...this.box.children];
    if (elements.length !== current.length || elements.some((e, i) => e !== current[i])) {
      this.box.replaceChildren(...elements);
    }
    this.feed();
  }

  /** Watches the tiles on screen (none while the tab is hidden). */
  private feed(): void {
    const connection = this.connection;
    if (!connection) return;
    for (const [id, tile] of this.tiles) {
      if (this.onScreen.has(tile.element)) {
        connection.watch(tile, this.streamOf(connection, id));
      } else {
        connection.unwatch(tile);
      }
    }
  }
}

/** `<camplex-camera camera="front-door">`: one camera, from its main stream unless `stream="sub"`. */
export class CamplexCamera extends CamplexElement {
  static readonly observedAttributes = ['camera', 'server', 'token', 'stream'];

  protected ids(connection: Connection): string[] {
    const id = this.getAttribute('camera');
    return id !== null && connection.cameras.has(id) ? [id] : [];
  }

  protected streamOf(connection: Connection, id: string): string {
    const sub = this.getAttribute('stream') === 'sub' && connection.cameras.get(id)?.substream;
    return sub ? id + SUBSTREAM_SUFFIX : id;
  }
}

/** `<camplex-grid>`: every camera the token may watch (or `cameras="a,b"`, or `group="name"`). */
export class CamplexGrid extends CamplexElement {
  static readonly observedAttributes = ['cameras', 'group', 'server', 'token'];

  protected ids(connection: Connection): string[] {
    const listed = this.getAttribute('cameras');
    const group = this.getAttribute('group');
    const all = [...connection.cameras.keys()];
    if (listed !== null) {
      const wanted = listed.split(',').map((id) => id.trim());
      return wanted.filter((id) => connection.cameras.has(id));
    }
    if (group !== null) return all.filter((id) => connection.groups[group]?.includes(id));
    return all;
  }

  protected streamOf(connection: Connection, id: string): string {
    return connection.gridStream(id);
  }
}

/** Defines both elements (once; a second call, e.g. from another copy of the script, is a no-op). */
export function defineCamplexElements(): void {
  if (!customElements.get('camplex-camera')) customElements.define('camplex-camera', CamplexCamera);
  if (!customElements.get('camplex-grid')) customElements.define('camplex-grid', CamplexGrid);
}
