/**
 * Every node tells the truth about every camera: the owner publishes each state change of the
 * streams it runs (and all of them again every STATE_EVERY_MS, for nodes that joined later),
 * and every other node keeps what owners last said, forgetting a state not heard for
 * STATE_FORGET_MS (its owner is gone). A node's viewers then see a camera another node runs
 * with its state and owner, even where nobody watches it here. No connection here: the node
 * publishes and subscribes for it (cluster.ts).
 */
import type { CameraInfo } from '../camera/camera.js';
import type { Clock } from '../common/clock.js';
import { decodeName, encodeName } from './names.js';

/** The subject prefix: `camplex.state.<stream>`. */
export const STATE = 'camplex.state';
/** The owner tells every node its streams' states this often, and on every change. */
export const STATE_EVERY_MS = 2000;
/** A state not heard again for this long is forgotten (its owner is gone). */
export const STATE_FORGET_MS = 3 * STATE_EVERY_MS;

/** What gossip needs of its node. */
export interface GossipNode {
  readonly node: string;
  readonly clock: Clock;
  /** Whether this node runs stream `id` (holds its lease). */
  runs(id: string): boolean;
  /** Streams this node runs, to tell again every STATE_EVERY_MS. */
  running(): Iterable<string>;
  /** Publishes a state with its owner (a control-connection publish that never throws). */
  publish(subject: string, data: string, owner: string): void;
}

/** What gossip needs of the hub. */
export interface GossipHub {
  /** The stream's info here, undefined for a stream this node does not have. */
  info(id: string): CameraInfo | undefined;
  /** Tells the hub's viewers of stream `id` again (its description changed). */
  announce(id: string): void;
}

export class StateGossip {
  private readonly node: GossipNode;
  private hub: GossipHub | undefined;
  /** Streams other nodes run, as their owners last told (per stream, without sub-streams). */
  private readonly remote = new Map<string, { info: CameraInfo; owner: string; at: number }>();
  private lastFullAt = Number.NEGATIVE_INFINITY;

  constructor(node: GossipNode) {
    this.node = node;
  }

  attach(hub: GossipHub): void {
    this.hub = hub;
  }

  /**
   * What this node tells its viewers of a stream: its own view, with the owner named; for a
   * stream this node neither runs nor receives (idle here), the state its owner reports.
   */
  describe(info: CameraInfo): CameraInfo {
    if (this.node.runs(info.id)) return { ...info, owner: this.node.node };
    const remote = this.remote.get(info.id);
    if (!remote) return info;
    if (info.state === 'idle') {
      return { ...remote.info, id: info.id, name: info.name, owner: remote.owner };
    }
    return { ...info, owner: remote.owner };
  }

  /** The node running stream `id`: this one, the owner last heard of, or none known. */
  ownerOf(id: string): string | undefined {
    return this.node.runs(id) ? this.node.node : this.remote.get(id)?.owner;
  }

  /** A state change here (the hub's onState): told at once, of a stream this node runs. */
  onLocalState(info: CameraInfo): void {
    this.tell(info);
    if (info.substream) this.tell(info.substream);
  }

  /** A state message from the bus: `owner` from its header. */
  onMessage(subject: string, data: Uint8Array, owner: string | undefined): void {
    if (!owner || owner === this.node.node) return;
    let info: CameraInfo;
    try {
      info = JSON.parse(new TextDecoder().decode(data)) as CameraInfo;
    } catch {
      return;
    }
    const id = decodeName(subject.slice(STATE.length + 1));
    if (info?.id !== id || !this.hub?.info(id)) return;
    const before = this.remote.get(id);
    this.remote.set(id, { info, owner, at: this.node.clock.now() });
    const changed =
      !before ||
      before.owner !== owner ||
      before.info.state !== info.state ||
      before.info.reason !== info.reason ||
      before.info.codecString !== info.codecString;
    if (changed) this.hub.announce(id);
  }

  /** Runs on the node's sweep: forgets quiet owners, and tells every running stream again. */
  sweep(): void {
    const now = this.node.clock.now();
    for (const [id, { at }] of this.remote) {
      if (now - at <= STATE_FORGET_MS) continue;
      this.remote.delete(id);
      this.hub?.announce(id);
    }
    if (now - this.lastFullAt < STATE_EVERY_MS) return;
    this.lastFullAt = now;
    for (const id of this.node.running()) {
      const info = this.hub?.info(id);
      if (info) this.tell(info);
    }
  }

  private tell(info: CameraInfo): void {
    if (!this.node.runs(info.id)) return;
    const { substream: _sub, owner: _owner, ...own } = info;
    this.node.publish(`${STATE}.${encodeName(info.id)}`, JSON.stringify(own), this.node.node);
  }
}
