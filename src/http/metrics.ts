/**
 * GET /metrics in the Prometheus text format (prom-client). The frame path only bumps plain
 * numbers (each camera's, and the hub's delivery totals); they become Prometheus counters when
 * scraped.
 */
import { readFileSync } from 'node:fs';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Camera } from '../camera/camera.js';
import type { Refusals } from '../guard/refusals.js';
import type { Hub } from '../hub/hub.js';

/** What GET /metrics serves. */
export interface Metrics {
  readonly contentType: string;
  /** The Prometheus text of every metric, read at this moment. */
  render(): Promise<string>;
}

/** Metrics that read the hub's cameras and viewers at scrape time. */
export function createMetrics(hub: Hub, refusals: Refusals, connections: () => number): Metrics {
  const registry = new Registry();
  // RSS, CPU, fds, GC and event-loop lag start with the first scrape: the lag monitor wakes
  // the process 10 times a second (at 100 ms precision) and the GC observer runs on every
  // collection, which is measurable on an idle box (about 1 ms of CPU per second here) and
  // worth nothing when nobody scrapes.
  let processMetrics = false;
  const startProcessMetrics = () => {
    if (processMetrics) return;
    processMetrics = true;
    const spent = process.cpuUsage();
    collectDefaultMetrics({
      register: registry,
      prefix: 'camplex_',
      eventLoopMonitoringPrecision: 100,
    });
    // prom-client's CPU counters count from their registration: the CPU the process spent
    // before its first scrape goes in too, so they are totals since it started, as they say.
    const add = (name: string, micros: number) =>
      (registry.getSingleMetric(`camplex_${name}`) as Counter | undefined)?.inc(micros / 1e6);
    add('process_cpu_user_seconds_total', spent.user);
    add('process_cpu_system_seconds_total', spent.system);
    add('process_cpu_seconds_total', spent.user + spent.system);
  };
  /**
   * A per-camera counter whose running total `read` gives at scrape time, over the hub's
   * cameras at that moment (a reload adds, removes and rebuilds them).
   */
  const counter = (name: string, help: string, read: (camera: Camera) => number) => {
    // By camera object, not id: a rebuilt camera is a new object counting from 0.
    const seen = new WeakMap<Camera, number>();
    new Counter({
      name,
      help,
      labelNames: ['camera'],
      registers: [registry],
      collect() {
        for (const camera of hub.cameras()) {
          const total = read(camera);
          const delta = total - (seen.get(camera) ?? 0);
          if (delta > 0) this.inc({ camera: camera.id }, delta);
          seen.set(camera, total);
        }
      },
    });
  };
  /**
   * A per-camera gauge of what `values` gives at scrape time: only those cameras are listed, so
   * one a reload removed (or a transcoder that stopped) goes with its last value.
   */
  const gauge = (name: string, help: string, values: () => Iterable<[string, number]>) => {
    new Gauge({
      name,
      help,
      labelNames: ['camera'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [camera, value] of values()) this.set({ camera }, value);
      },
    });
  };
  counter(
    'camplex_frames_total',
    'Pictures cut from ffmpeg output, per camera.',
    (camera) => camera.counters.frames,
  );
  counter(
    'camplex_audio_frames_total',
    'Sound frames cut from ffmpeg output, per camera.',
    (camera) => camera.counters.audioFrames,
  );
  counter(
    'camplex_frames_sent_total',
    'Frames handed to viewers (WebSocket messages and MJPEG parts).',
    (camera) => hub.deliveryOf(camera).sent,
  );
  counter(
    'camplex_frames_dropped_total',
    'Frames a congested viewer never got: a newer frame replaced them.',
    (camera) => hub.deliveryOf(camera).dropped,
  );
  counter(
    'camplex_camera_failures_total',
    'ffmpeg exits and stalls that led to a restart.',
    (camera) => camera.counters.failures,
  );
  gauge('camplex_camera_live', '1 while the camera delivers frames, else 0.', () =>
    hub.infos().map((info) => [info.id, info.state === 'live' ? 1 : 0]),
  );
  gauge(
    'camplex_cache_bytes',
    'Bytes of the pictures since the last key frame kept for late joiners, per stream.',
    () => hub.cameras().map((camera) => [camera.id, camera.cachedByteCount]),
  );
  gauge(
    'camplex_cache_memory_bytes',
    'Memory the cache of each stream holds: for video the buffer its pictures are copied ' +
      'into (it grows by doubling within the cache bound and is let go when GOPs shrink), for ' +
      'JPEG the latest picture.',
    () => hub.cameras().map((camera) => [camera.id, camera.cacheMemoryBytes]),
  );
  new Gauge({
    name: 'camplex_viewers',
    help: 'Open WebSocket viewer sessions.',
    registers: [registry],
    collect() {
      this.set(hub.viewerCount);
    },
  });
  new Gauge({
    name: 'camplex_connections',
    help: 'Open TCP connections (HTTP, MJPEG and WebSocket alike).',
    registers: [registry],
    collect() {
      this.set(connections());
    },
  });
  gauge(
    'camplex_transcoder_cpu_seconds',
    'CPU time of each running JPEG transcoder (decoding a camera H.264/H.265 for JPEG viewers), since it started.',
    () =>
      hub.transcoders().flatMap((transcoder): Array<[string, number]> => {
        const seconds = cpuSeconds(transcoder.pid);
        return seconds === undefined ? [] : [[transcoder.id, seconds]];
      }),
  );
  const seenLimits = new Map<string, number>();
  new Counter({
    name: 'camplex_limit_hits_total',
    help: 'Connections, requests and messages refused: by a limit, an access check, or as malformed.',
    labelNames: ['limit'],
    registers: [registry],
    collect() {
      for (const [limit, total] of refusals.entries()) {
        const delta = total - (seenLimits.get(limit) ?? 0);
        if (delta > 0) this.inc({ limit }, delta);
        seenLimits.set(limit, total);
      }
    },
  });
  return {
    contentType: registry.contentType,
    render: () => {
      startProcessMetrics();
      return registry.metrics();
    },
  };
}

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** User plus system CPU seconds of process `pid`, from /proc (Linux); undefined elsewhere. */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}
