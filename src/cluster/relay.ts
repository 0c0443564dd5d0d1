/**
 * The owner's viewer that publishes a stream's units for the other nodes: one hub viewer per
 * channel, subscribed while some node shows interest. Units too large for one NATS message are
 * not relayed (and said so); a publish never throws into the frame path.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Camera, Frame } from '../camera/camera.js';
import type { Log } from '../common/log.js';
import type { Viewer } from '../hub/hub.js';
import { headersOf } from './bus-format.js';
import { encodeName } from './names.js';

/** The owner's viewer that publishes a stream's frames for the other nodes. */
export class RelayViewer implements Viewer {
  private readonly nc: NatsConnection;
  private readonly log: Log;
  private readonly subject: string;
  private readonly publisher: string;
  private readonly subjects = new Map<string, string>();
  private tooLarge = 0;

  constructor(nc: NatsConnection, log: Log, subject: string, publisher: string) {
    this.nc = nc;
    this.log = log;
    this.subject = subject;
    this.publisher = publisher;
  }

  sendFrame(frame: Frame, camera: Camera): void {
    const max = this.nc.info?.max_payload ?? 1024 * 1024;
    if (frame.data.length + 256 > max) {
      // Units are not split: nats-server's max_payload must exceed stream.maxFrameBytes.
      if (this.tooLarge++ % 100 === 0) {
        this.log.warn(
          { camera: camera.id, bytes: frame.data.length, maxPayload: max },
          'frame larger than NATS max_payload: not relayed (raise max_payload in nats-server.conf)',
        );
      }
      return;
    }
    try {
      this.nc.publish(this.subjectOf(camera.id), frame.data, {
        headers: headersOf(frame, this.publisher),
      });
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
    for (const frame of frames) this.sendFrame(frame, camera);
  }

  sendState(): void {
    // each node's camera has its own state, from the frames it gets
  }
}
