/**
 * The hub: the camera registry, reference-counted subscriptions and the fan-out of frames and
 * states to viewers. A camera runs while it has a subscriber, plus a grace period after the last
 * one leaves, so a page refresh does not restart ffmpeg. It keeps each camera's delivery totals,
 * which every kind of viewer adds to through latest-wins.ts.
 */
import type { Camera, CameraInfo, CameraListener, Frame } from '../camera/camera.js';
import type { Clock } from '../common/clock.js';
import type { Log } from '../common/log.js';
import type { DeliveryCounts } from './latest-wins.js';

/** Anything that watches cameras: a WebSocket viewer or an MJPEG response. */
export interface Viewer {
  /** A frame of a camera this viewer subscribed to. Must not throw; may drop. */
  sendFrame(frame: Frame, camera: Camera): void;
  /** A state change of any camera. */
  sendState(info: CameraInfo): void;
}

export interface HubOptions {
  /** Builds every camera, given the hub as the listener for their frames and states. */
  createCameras: (listener: CameraListener) => Camera[];
  graceMs: number;
  clock: Clock;
  log: Log;
}

export interface SubscribeResult {
  accepted: string[];
  unknown: string[];
}

export class Hub implements CameraListener {
  private readonly byId = new Map<string, Camera>();
  private readonly delivered = new Map<Camera, DeliveryCounts>();
  private readonly subscribers = new Map<string, Set<Viewer>>();
  private readonly stopTimers = new Map<string, unknown>();
  private readonly viewers = new Set<Viewer>();
  private readonly options: HubOptions;
  private closed = false;

  constructor(options: HubOptions) {
    this.options = options;
    for (const camera of options.createCameras(this)) {
      this.byId.set(camera.id, camera);
      this.delivered.set(camera, { sent: 0, dropped: 0 });
      this.subscribers.set(camera.id, new Set());
    }
  }

  /** Every camera, in config order. */
  cameras(): Camera[] {
    return [...this.byId.values()];
  }

  /** Every camera, in config order, as viewers may see it. */
  infos(): CameraInfo[] {
    return this.cameras().map((camera) => camera.info());
  }

  camera(id: string): Camera | undefined {
    return this.byId.get(id);
  }

  /** Frames of `camera` sent to viewers and dropped for them, summed over every viewer. */
  deliveryOf(camera: Camera): DeliveryCounts {
    let counts = this.delivered.get(camera);
    if (!counts) {
      counts = { sent: 0, dropped: 0 };
      this.delivered.set(camera, counts);
    }
    return counts;
  }

  /** Number of viewers subscribed to `id`. */
  subscriberCount(id: string): number {
    return this.subscribers.get(id)?.size ?? 0;
  }

  /** Number of registered viewers (open WebSocket sessions). */
  get viewerCount(): number {
    return this.viewers.size;
  }

  /** Registers a viewer for state broadcasts. */
  addViewer(viewer: Viewer): void {
    this.viewers.add(viewer);
  }

  /** Forgets a viewer and drops all of its subscriptions. */
  removeViewer(viewer: Viewer): void {
    this.viewers.delete(viewer);
    this.unsubscribe(viewer, [...this.byId.keys()]);
  }

  /** Subscribes `viewer` to the known cameras among `ids`; each new one gets its latest frame. */
  subscribe(viewer: Viewer, ids: readonly string[]): SubscribeResult {
    const result: SubscribeResult = { accepted: [], unknown: [] };
    for (const id of ids) {
      const camera = this.byId.get(id);
      const subscribers = this.subscribers.get(id);
      if (!camera || !subscribers) {
        result.unknown.push(id);
        continue;
      }
      result.accepted.push(id);
      if (subscribers.has(viewer)) continue;
      subscribers.add(viewer);
      this.keepRunning(camera);
      const latest = camera.latest;
      if (latest) viewer.sendFrame(latest, camera);
    }
    return result;
  }

  /** Unsubscribes `viewer`; a camera left without subscribers stops after the grace period. */
  unsubscribe(viewer: Viewer, ids: readonly string[]): SubscribeResult {
    const result: SubscribeResult = { accepted: [], unknown: [] };
    for (const id of ids) {
      const subscribers = this.subscribers.get(id);
      if (!subscribers) {
        result.unknown.push(id);
        continue;
      }
      result.accepted.push(id);
      if (subscribers.delete(viewer) && subscribers.size === 0) this.scheduleStop(id);
    }
    return result;
  }

  onFrame(camera: Camera, frame: Frame): void {
    const subscribers = this.subscribers.get(camera.id);
    if (!subscribers) return;
    for (const viewer of subscribers) viewer.sendFrame(frame, camera);
  }

  onState(camera: Camera): void {
    const info = camera.info();
    for (const viewer of this.viewers) viewer.sendState(info);
  }

  /** Stops every camera for good; resolves when every ffmpeg has exited. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.stopTimers.values()) this.options.clock.clearTimeout(timer);
    this.stopTimers.clear();
    await Promise.all(this.cameras().map((camera) => camera.shutDown()));
  }

  private keepRunning(camera: Camera): void {
    if (this.closed) return;
    const timer = this.stopTimers.get(camera.id);
    if (timer !== undefined) {
      this.options.clock.clearTimeout(timer);
      this.stopTimers.delete(camera.id);
    }
    camera.start();
  }

  private scheduleStop(id: string): void {
    const previous = this.stopTimers.get(id);
    if (previous !== undefined) this.options.clock.clearTimeout(previous);
    const timer = this.options.clock.setTimeout(() => {
      this.stopTimers.delete(id);
      if (this.subscriberCount(id) > 0) return;
      const camera = this.byId.get(id);
      if (camera?.running) {
        this.options.log.info({ camera: id }, 'no viewers left: stopping camera');
        void camera.stop();
      }
    }, this.options.graceMs);
    this.stopTimers.set(id, timer);
  }
}
