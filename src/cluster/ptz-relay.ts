/**
 * PTZ in a cluster: the node that runs a camera (its owner) is the one that talks to it, so a
 * camera's rate limit, its one-call-at-a-time and its dead-man hold across nodes. A command from
 * a page on another node goes to the owner over the bus, named by the node and a number for
 * the page's socket; the owner answers only when something failed. When that socket closes,
 * the owner is told and stops a move it held; when the node dies, the owner's dead-man does.
 * A camera no node runs now is moved by the node the page is on.
 *
 * Every node still connects to each PTZ camera itself, to show its presets.
 */
import { CamplexError, type ErrorCode, ErrorCodes } from '../common/errors.js';
import type { Log } from '../common/log.js';
import { decodeClientCommand, type PtzCommand } from '../protocol/wire.js';
import type { PtzMover } from '../ptz/ptz-camera.js';
import type { PtzControl } from '../ptz/ptz-cameras.js';
import { encodeName } from './names.js';

const COMMANDS = 'camplex.ptz';
const ERRORS = 'camplex.ptzerror';
/** What the config allows as a node name (cluster.node). */
const NODE_NAME = /^[A-Za-z0-9._-]{1,64}$/;
/** Movers of other nodes an owner keeps at once (each goes when its socket closes). */
const MAX_REMOTE_MOVERS = 10_000;

/** What the relay needs of the cluster's control connection. */
export interface PtzBus {
  readonly node: string;
  /** The node running camera `id` now, as far as this node knows (undefined: none). */
  ownerOf(id: string): string | undefined;
  publish(subject: string, data: string): void;
  /** Calls `handle` with each message's text on `subject` (a handler that throws is logged). */
  listen(subject: string, what: string, handle: (text: string) => void): void;
}

interface CommandMessage {
  from: string;
  mover: string;
  command?: PtzCommand;
  release?: true;
}

interface ErrorMessage {
  mover: string;
  camera: string;
  code: ErrorCode;
  message: string;
}

export class PtzRelay implements PtzControl {
  /** This node's movers whose commands went elsewhere: their number, and the owners told. */
  private readonly forwarded = new Map<PtzMover, { id: string; owners: Set<string> }>();
  private readonly byId = new Map<string, PtzMover>();
  private nextId = 1;
  /** Other nodes' movers of the cameras this node runs, by `<node> <number>`. */
  private readonly remote = new Map<string, PtzMover>();

  constructor(
    private readonly bus: PtzBus,
    private readonly local: PtzControl,
    private readonly log: Log,
  ) {
    bus.listen(`${COMMANDS}.${encodeName(bus.node)}`, 'ptz commands', (text) =>
      this.onCommand(text),
    );
    bus.listen(`${ERRORS}.${encodeName(bus.node)}`, 'ptz errors', (text) => this.onError(text));
  }

  presetsOf(camera: string) {
    return this.local.presetsOf(camera);
  }

  command(mover: PtzMover, command: PtzCommand): void {
    const owner = this.bus.ownerOf(command.camera);
    if (owner === undefined || owner === this.bus.node) {
      this.local.command(mover, command);
      return;
    }
    let entry = this.forwarded.get(mover);
    if (!entry) {
      entry = { id: String(this.nextId++), owners: new Set() };
      this.forwarded.set(mover, entry);
      this.byId.set(entry.id, mover);
    }
    entry.owners.add(owner);
    this.send(owner, { from: this.bus.node, mover: entry.id, command });
  }

  release(mover: PtzMover): void {
    this.local.release(mover);
    const entry = this.forwarded.get(mover);
    if (!entry) return;
    this.forwarded.delete(mover);
    this.byId.delete(entry.id);
    for (const owner of entry.owners) {
      this.send(owner, { from: this.bus.node, mover: entry.id, release: true });
    }
  }

  private send(node: string, message: CommandMessage): void {
    this.bus.publish(`${COMMANDS}.${encodeName(node)}`, JSON.stringify(message));
  }

  /** A command from a page on another node, for a camera this node runs. */
  private onCommand(text: string): void {
    const message = JSON.parse(text) as Partial<CommandMessage>;
    const { from, mover } = message;
    // Kept as map keys: a node name and a socket's number, nothing larger.
    if (typeof from !== 'string' || !NODE_NAME.test(from)) return;
    if (typeof mover !== 'string' || !/^\d{1,15}$/.test(mover)) return;
    const key = `${from} ${mover}`;
    if (message.release === true) {
      const known = this.remote.get(key);
      if (known) this.local.release(known);
      this.remote.delete(key);
      return;
    }
    // The bus is trusted (whoever publishes on it is a node), but a command is still checked
    // exactly as one from a page is: bounds, names, actions.
    const command = decodeClientCommand(JSON.stringify(message.command ?? null));
    if (command.cmd !== 'ptz') return;
    let remote = this.remote.get(key);
    if (!remote) {
      if (this.remote.size >= MAX_REMOTE_MOVERS) {
        const [oldest] = this.remote;
        if (oldest) {
          this.local.release(oldest[1]);
          this.remote.delete(oldest[0]);
        }
      }
      remote = {
        ptzError: (camera, code, text) => this.reply(from, { mover, camera, code, message: text }),
      };
      this.remote.set(key, remote);
    }
    try {
      this.local.command(remote, command);
    } catch (error) {
      if (!(error instanceof CamplexError)) throw error;
      remote.ptzError(command.camera, error.code, error.message);
    }
  }

  private reply(node: string, message: ErrorMessage): void {
    this.bus.publish(`${ERRORS}.${encodeName(node)}`, JSON.stringify(message));
  }

  /** An owner's answer: a command of one of this node's pages failed there. */
  private onError(text: string): void {
    const { mover, camera, code, message } = JSON.parse(text) as Partial<ErrorMessage>;
    const target = typeof mover === 'string' ? this.byId.get(mover) : undefined;
    if (!target || typeof camera !== 'string' || typeof message !== 'string') return;
    const known = Object.values(ErrorCodes).includes(code as ErrorCode);
    target.ptzError(camera, known ? (code as ErrorCode) : ErrorCodes.PTZ_UNAVAILABLE, message);
    this.log.debug({ camera, code }, 'PTZ command failed on the owner');
  }
}
