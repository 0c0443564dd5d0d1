/**
 * A camera's states and which may follow which, checked in one place: idle until someone
 * watches, starting while ffmpeg has yet to deliver, live while frames come, retrying after a
 * failure (offline once failures pile up; it still retries), stopped for good at shutdown.
 */
export type CameraState = 'idle' | 'starting' | 'live' | 'retrying' | 'offline' | 'stopped';

import type { AudioInfo } from '../frames/codecs.js';

export type { AudioInfo };

/** What a viewer may know of a camera: never its URL. */
export interface CameraInfo {
  id: string;
  name: string;
  state: CameraState;
  /** Why the camera is not live (redacted, short), when retrying or offline. */
  reason?: string;
  /** Failed attempts in a row, when retrying or offline. */
  attempt?: number;
  /** Milliseconds until the next attempt, when retrying or offline. */
  retryInMs?: number;
  /** What the camera sends, once known: jpeg, or h264 / h265 for viewers that decode video. */
  codec?: 'jpeg' | 'h264' | 'h265';
  /** For video: the codec string a decoder is configured with, e.g. avc1.42C01E. */
  codecString?: string;
  width?: number;
  height?: number;
  /** The camera sends B-frames (decoded with a delay of the reordering depth). */
  bframes?: true;
  /** The camera's sound, once known, when camplex passes it on. */
  audio?: AudioInfo;
  /** The camera's second stream (`<id>@sub`), when it has one. */
  substream?: CameraInfo;
  /** In a cluster: the node running the camera now. */
  owner?: string;
  /**
   * The camera can be moved (pan, tilt, zoom) by this viewer: present only when the camera's PTZ
   * answered and the viewer's principal may move it. Its presets, possibly none.
   */
  ptz?: { presets: PtzPreset[] };
}

/** A position the camera has stored: its ONVIF token and the name it shows. */
export interface PtzPreset {
  token: string;
  name: string;
}

const STOPPABLE = ['idle', 'stopped'] as const;

/** The states each state may move to (every state may stop, but stopped is final). */
export const TRANSITIONS: Readonly<Record<CameraState, readonly CameraState[]>> = {
  idle: ['starting', 'stopped'],
  starting: ['live', 'retrying', 'offline', ...STOPPABLE],
  // starting again without a failure: in a cluster, its source moved to this node
  live: ['starting', 'retrying', 'offline', ...STOPPABLE],
  retrying: ['starting', 'retrying', 'offline', ...STOPPABLE],
  offline: ['starting', 'offline', ...STOPPABLE],
  stopped: [],
};

/** True while ffmpeg runs or a restart is pending. */
export function isRunning(state: CameraState): boolean {
  return state !== 'idle' && state !== 'stopped';
}

/** Retrying or offline: a restart is pending and the reason is known. */
export function isFailing(state: CameraState): boolean {
  return state === 'retrying' || state === 'offline';
}
