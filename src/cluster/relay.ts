/**
 * The owner's viewer that publishes a stream's units for the other nodes: one hub viewer per
 * channel, subscribed while some node shows interest. A unit too large for one NATS message
 * goes in pieces (bus-format.ts); a publish never throws into the frame path, and what the
 * server has not yet confirmed is bounded (publish-window.ts): past it a camera's units are
 * dropped up to its next key unit, as a receiver would drop them after the gap anyway.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Camera, Frame } from '../camera/camera.js';
import { ownCopy } from '../camera/frame.js';
import type { Log } from '../common/log.js';
import type { Viewer } from '../hub/hub.js';
import { headersOf, MAX_PIECES, partOf, piecesOf } from './bus-format.js';
import { encodeName } from './names.js';
import type { PublishWindow } from './publish-window.js';

/** A unit's share of a NATS message besides its bytes: subject and headers. */
const MESSAGE_OVERHEAD_BYTES = 256;
/** Warnings of one kind are logged once per this many. */
const WARN_EVERY = 100;

/** The owner's viewer that publishes a stream's frames for the other nodes. */
export class RelayViewer implements Viewer {
  private readonly nc: Pick<NatsConnection, 'publish' | 'info'>;
  private readonly window: PublishWindow;
  private readonly log: Log;
  private readonly subject: string;
  private readonly publisher: string;
  private readonly subjects = new Map<string, string>();
  /** Cameras whose units were dropped: nothing goes until their next key unit. */
  private readonly awaitingKey = new Set<string>();
  /** Cameras whose sound details go with their next sound frame (after each key unit). */
  private readonly tellSound = new Set<string>();
  private tooLarge = 0;
  private backedUp = 0;

  constructor(
    nc: Pick<NatsConnection, 'publish' | 'info'>,
    window: PublishWindow,
    log: Log,
    subject: string,
    publisher: string,
  ) {
    this.nc = nc;
    this.window = window;
    this.log = log;
    this.subject = subject;
    this.publisher = publisher;
  }

  sendFrame(frame: Frame, camera: Camera): void {
    const max = this.nc.info?.max_payload ?? 1024 * 1024;
    const pieces = piecesOf(frame.data, max - MESSAGE_OVERHEAD_BYTES);
    if (pieces === undefined) {
      if (this.tooLarge++ % WARN_EVERY === 0) {
        this.log.warn(
          { camera: camera.id, bytes: frame.data.length, maxPayload: max, maxPieces: MAX_PIECES },
          'frame larger than NATS max_payload allows in pieces: not relayed (raise max_payload in nats-server.conf)',
        );
      }
      this.awaitingKey.add(camera.id);
      return;
    }
    if (this.awaitingKey.has(camera.id) && !frame.key) return;
    if (frame.key && !frame.audio) this.tellSound.add(camera.id);
    const bytes = frame.data.length + pieces.length * MESSAGE_OVERHEAD_BYTES;
    if (!this.window.admit(bytes, frame.key)) {
      if (this.backedUp++ % WARN_EVERY === 0) {
        this.log.warn(
          { camera: camera.id, unconfirmed: this.window.unconfirmed },
          'NATS is slower than the cameras: relayed units dropped up to the next key unit',
        );
      }
      this.awaitingKey.add(camera.id);
      return;
    }
    this.awaitingKey.delete(camera.id);
    // A node that starts taking the camera learns its sound within a GOP.
    const sound = frame.audio && this.tellSound.delete(camera.id) ? camera.info().audio : undefined;
    const subject = this.subjectOf(camera.id);
    try {
      for (let i = 0; i < pieces.length; i++) {
        const headers = headersOf(frame, this.publisher, sound);
        if (pieces.length > 1) headers.set('part', partOf(i, pieces.length));
        this.nc.publish(subject, pieces[i], { headers });
      }
    } catch (error) {
      // a closed connection (shutting down): a viewer must not throw into the frame path
      this.log.debug({ err: (error as Error).message }, 'NATS publish failed');
    }
  }

  /** The stream's subject, made once per stream rather than per frame. */
  private subjectOf(id: string): string {
    let subject = this.subjects.get(id);
    if (subject === undefined) {
      subject = `${this.subject}.${encodeName(id)}`;
      this.subjects.set(id, subject);
    }
    return subject;
  }

  sendBurst(frames: readonly Frame[], camera: Camera): void {
    // Copies: NATS keeps a payload until it flushes (until it reconnects, while it is away),
    // and a cached frame's bytes are written over at the camera's next key frame.
    for (const frame of frames) this.sendFrame(ownCopy(frame), camera);
  }

  sendState(): void {
    // each node's camera has its own state, from the frames it gets
  }
}
