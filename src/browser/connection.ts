/**
 * One camplex as a page sees it, for the dashboard and the embeddable elements alike: ONE
 * CameraSocket per server and token, however many tiles a page has. Whoever shows tiles
 * registers those on screen (`watch`) with the stream each shows; the connection subscribes the
 * union in the formats this page plays, routes each frame to every tile of its stream, keeps the
 * camera list (from hello, or over plain HTTP while the socket cannot connect), moves a camera to
 * JPEG when its video will not play, feeds the watched tiles over HTTP while the socket is down
 * for good, and plays the sound of the one camera unmuted (asked for only for that camera).
 */
import { cameraOfStream, SUBSTREAM_SUFFIX } from '../common/camera-id.js';
import type { CameraInfo, PtzCommand } from '../protocol/wire.js';
import { CameraSocket } from './camera-socket.js';
import { pageVideo } from './decoder-ladder.js';
import { Formats } from './formats.js';
import { HttpFallback } from './http-fallback.js';
import { Tile } from './tile.js';

/** Failed connects in a row before visible tiles are fed over plain HTTP. */
const FALLBACK_AFTER_FAILURES = 3;

export class Connection {
  private static readonly opened = new Map<string, Promise<Connection>>();

  /** The connection to the camplex at `server` with `token`, shared by every element asking. */
  static for(server: string, token?: string): Promise<Connection> {
    const key = `${new URL(server).href} ${token ?? ''}`;
    let connection = Connection.opened.get(key);
    if (!connection) {
      connection = pageVideo().then((video) => new Connection(server, token, video));
      Connection.opened.set(key, connection);
    }
    return connection;
  }

  readonly cameras = new Map<string, CameraInfo>();
  groups: Record<string, string[]> = {};
  /** The socket is open now. */
  connected = false;
  /** Connects that failed in a row. */
  failures = 0;
  /** The last error the server sent, until the next hello. */
  lastError: string | undefined;
  /** Whether a camera list came yet (hello, or /api/cameras): until then `cameras` means nothing. */
  listed = false;
  private readonly socket: CameraSocket;
  private readonly formats: Formats;
  private readonly fallback: HttpFallback;
  /** The tile fed over HTTP for each camera while the socket is down. */
  private readonly fallbackTiles = new Map<string, Tile>();
  /** Each tile on screen, and the stream it shows. */
  private readonly watching = new Map<Tile, string>();
  /** The stream each tile last showed, watched now or not. */
  private readonly shownStream = new WeakMap<Tile, string>();
  private readonly listeners = new Set<() => void>();
  private readonly headers: Record<string, string>;
  /** The stream whose sound plays, through the page's AudioContext, and its tile. */
  private sounding: { stream: string; context: AudioContext } | undefined;

  private constructor(
    server: string,
    token: string | undefined,
    video: Awaited<ReturnType<typeof pageVideo>>,
  ) {
    this.headers = token === undefined ? {} : { Authorization: `Bearer ${token}` };
    this.formats = new Formats(
      video,
      (id) => {
        for (const tile of this.tilesOf(id)) tile.close();
        this.update();
      },
      () => {
        this.update();
        this.changed();
      },
    );
    this.fallback = new HttpFallback(this.fallbackTiles, { server, token });
    this.socket = new CameraSocket(
      CameraSocket.urlFor(server),
      {
        onHello: (cameras, groups) => {
          this.lastError = undefined;
          this.setCameras(cameras, groups);
        },
        onState: (info) => {
          this.cameras.set(info.id, info);
          this.refresh(info);
          this.changed();
        },
        onFrame: (stream, frame) => {
          for (const [tile, shown] of this.watching) if (shown === stream) tile.push(frame);
        },
        onConnection: (open, failures) => {
          this.connected = open;
          this.failures = failures;
          this.update();
          this.changed();
        },
        onError: (code, message) => {
          console.warn(`camplex: ${message} (${code})`);
          this.lastError = `${message} (${code})`;
          this.changed();
        },
      },
      { token },
    );
    this.socket.connect();
    addEventListener('pagehide', () => this.socket.close());
    // The camera list also comes over plain HTTP, so tiles appear even when the socket cannot.
    fetch(new URL('/api/cameras', server), { headers: this.headers })
      .then((response) => (response.ok ? response.json() : undefined))
      .then((body: { cameras: CameraInfo[]; groups?: Record<string, string[]> } | undefined) => {
        if (body && !this.listed) this.setCameras(body.cameras, body.groups ?? {});
      })
      .catch(() => {});
    // Pictures per second and staleness in the captions of the tiles on screen.
    setInterval(() => {
      for (const tile of this.watching.keys()) tile.tick();
    }, 1000);
  }

  /** A new tile for camera `id`, drawn with the decoder this page has. */
  tile(id: string): Tile {
    const info = this.cameras.get(id) ?? { id, name: id, state: 'idle' as const };
    this.formats.add(id);
    return new Tile(info, this.formats.decoder, (camera, reason) => {
      console.warn(`camplex: ${camera}: video keeps failing to play (${reason}): using JPEG`);
      this.formats.toJpeg(camera);
    });
  }

  /**
   * `tile` is on screen showing `stream` (`<id>` or `<id>@sub`): feed it. A tile switched to
   * another stream (focus shows the main stream) starts afresh: its decoder held the other's.
   */
  watch(tile: Tile, stream: string): void {
    if (this.watching.get(tile) === stream) return;
    const before = this.shownStream.get(tile);
    if (before !== undefined && before !== stream) tile.close();
    this.shownStream.set(tile, stream);
    this.watching.set(tile, stream);
    this.applySound(tile, stream);
    const info = this.cameras.get(cameraOfStream(stream));
    if (info) this.refresh(info);
    this.update();
  }

  /** Whether `tile` is fed now. */
  isWatching(tile: Tile): boolean {
    return this.watching.has(tile);
  }

  /** Whether this page plays the sound of stream `stream` (its camera has sound it decodes). */
  hasSound(stream: string): boolean {
    const sound = this.cameras.get(cameraOfStream(stream))?.audio;
    return sound !== undefined && this.formats.playsSound(stream, sound);
  }

  /** The stream whose sound plays now, if one does. */
  get soundStream(): string | undefined {
    return this.sounding?.stream;
  }

  /**
   * Plays the sound of `stream` (one at a time: any other stops) through `context`, which the
   * page made or resumed in a user's gesture; undefined: silence.
   */
  setSound(stream: string | undefined, context?: AudioContext): void {
    const before = this.sounding?.stream;
    this.sounding = stream !== undefined && context ? { stream, context } : undefined;
    this.formats.setSounding(this.sounding?.stream);
    for (const [tile, shown] of this.watching) {
      if (shown === before || shown === stream) this.applySound(tile, shown);
    }
    this.update();
    this.changed();
  }

  private applySound(tile: Tile, stream: string): void {
    const sound = this.cameras.get(cameraOfStream(stream))?.audio;
    const on = this.sounding?.stream === stream && sound !== undefined;
    tile.setSound(on ? sound : undefined, this.sounding?.context);
  }

  /** `tile` is off screen or gone. */
  unwatch(tile: Tile): void {
    const stream = this.watching.get(tile);
    if (!this.watching.delete(tile)) return;
    tile.setWanted(false);
    tile.setSound(undefined);
    const sounding = this.sounding?.stream;
    if (
      sounding !== undefined &&
      stream === sounding &&
      ![...this.watching.values()].includes(sounding)
    ) {
      this.setSound(undefined); // nothing shows it any more: silence
      return;
    }
    this.update();
  }

  /** Tells `listener` whenever the camera list or a camera's state changes; returns the undo. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The stream a grid shows of camera `id`: its sub-stream when it has one. */
  /** Moves a camera (a PTZ command); false when the socket is down. */
  ptz(command: PtzCommand): boolean {
    return this.socket.send(command);
  }

  gridStream(id: string): string {
    return this.cameras.get(id)?.substream ? id + SUBSTREAM_SUFFIX : id;
  }

  /** The camera list and groups of a hello (or of /api/cameras); cameras gone are forgotten. */
  private setCameras(cameras: CameraInfo[], groups: Record<string, string[]>): void {
    this.listed = true;
    this.groups = groups;
    // In the server's order, every time (a reload may insert one anywhere).
    this.cameras.clear();
    for (const info of cameras) this.cameras.set(info.id, info);
    for (const info of cameras) this.refresh(info);
    this.changed();
  }

  private tilesOf(id: string): Tile[] {
    return [...this.watching].filter(([, s]) => cameraOfStream(s) === id).map(([tile]) => tile);
  }

  /** Brings the tiles of a camera up to date with its state (or its sub-stream's). */
  private refresh(info: CameraInfo): void {
    for (const [tile, stream] of this.watching) {
      if (cameraOfStream(stream) !== info.id) continue;
      const shown =
        stream !== info.id && info.substream
          ? { ...info.substream, id: info.id, name: info.name }
          : info;
      tile.setState(shown);
      this.formats.check(shown);
    }
  }

  private update(): void {
    const streams = new Set(this.watching.values());
    this.socket.want(streams, (stream) =>
      this.formats.of(stream, this.cameras.get(cameraOfStream(stream))?.audio),
    );
    for (const tile of this.watching.keys()) tile.setWanted(true);
    const overHttp = !this.connected && this.failures >= FALLBACK_AFTER_FAILURES;
    this.fallbackTiles.clear();
    if (overHttp) {
      for (const [tile, stream] of this.watching)
        this.fallbackTiles.set(cameraOfStream(stream), tile);
    }
    this.fallback.show(overHttp ? [...this.fallbackTiles.keys()] : []);
    if (!overHttp) for (const tile of this.watching.keys()) tile.setTransport('socket');
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
