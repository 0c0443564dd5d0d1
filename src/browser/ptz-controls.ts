/**
 * The focused camera's pan, tilt and zoom, shown only when the server said this page may move it
 * (its camera info carries `ptz`): an on-screen pad, zoom in and out, and its presets.
 *
 * Keys: Shift+arrows pan and tilt, + and - zoom. Plain Left and Right keep switching cameras in
 * the focused view, so Shift decides: with it the camera moves, without it the page changes
 * camera. A control moves the camera only while it is held: the page repeats its command every
 * PTZ_KEEPALIVE_MS (key auto-repeat, about 30 events a second, is ignored: it would hit the
 * socket's message limit) and sends stop when nothing is held any more, the camera changes, the
 * page loses focus or is hidden. The server stops the camera by itself when the repeats stop.
 */
import { PTZ_KEEPALIVE_MS, type PtzCommand, type PtzPreset } from '../protocol/wire.js';
import { isShortcut } from './shortcuts.js';

/** The speed of a held control (of -1 to 1): slow enough to aim. */
const SPEED = 0.5;

type Control = 'left' | 'right' | 'up' | 'down' | 'in' | 'out';

const KEYS: Readonly<Record<string, Control>> = {
  ArrowLeft: 'left',
  ArrowRight: 'right',
  ArrowUp: 'up',
  ArrowDown: 'down',
};
const ZOOM_KEYS: Readonly<Record<string, Control>> = { '+': 'in', '=': 'in', '-': 'out', _: 'out' };

const BUTTONS: ReadonlyArray<{ control: Control; label: string; text: string }> = [
  { control: 'up', label: 'Tilt up (Shift+Up)', text: '▲' },
  { control: 'left', label: 'Pan left (Shift+Left)', text: '◀' },
  { control: 'right', label: 'Pan right (Shift+Right)', text: '▶' },
  { control: 'down', label: 'Tilt down (Shift+Down)', text: '▼' },
  { control: 'in', label: 'Zoom in (+)', text: '+' },
  { control: 'out', label: 'Zoom out (-)', text: '−' },
];

export class PtzControls {
  private camera: string | undefined;
  private readonly held = new Set<Control>();
  private repeat: ReturnType<typeof setInterval> | undefined;
  private readonly presets: HTMLSelectElement;
  private shownPresets = '';

  /** `root` is the (empty) element the controls go in; `send` sends one command. */
  constructor(
    private readonly root: HTMLElement,
    private readonly send: (command: PtzCommand) => void,
  ) {
    root.hidden = true;
    root.setAttribute('aria-label', 'camera movement');
    const pad = document.createElement('div');
    pad.className = 'ptz-pad';
    for (const { control, label, text } of BUTTONS) {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = text;
      button.title = label;
      button.setAttribute('aria-label', label);
      button.dataset.ptz = control;
      // Held with a pointer (mouse, finger, pen) as long as it is down.
      button.addEventListener('pointerdown', (event) => {
        button.setPointerCapture?.(event.pointerId);
        this.hold(control);
      });
      for (const end of ['pointerup', 'pointercancel', 'lostpointercapture'] as const) {
        button.addEventListener(end, () => this.release(control));
      }
      pad.append(button);
    }
    this.presets = document.createElement('select');
    this.presets.title = 'Go to a stored position';
    this.presets.addEventListener('change', () => {
      const preset = this.presets.value;
      this.presets.value = '';
      // A focused list would take the next arrow or letter as another preset.
      this.presets.blur();
      if (preset && this.camera) {
        this.releaseAll();
        this.send({ cmd: 'ptz', camera: this.camera, action: 'preset', preset });
      }
    });
    root.append(pad, this.presets);
    document.addEventListener('keydown', (event) => this.onKey(event, true));
    document.addEventListener('keyup', (event) => this.onKey(event, false));
    addEventListener('blur', () => this.releaseAll());
    document.addEventListener('visibilitychange', () => this.releaseAll());
  }

  /** The focused camera and what the server says of its PTZ (undefined: no controls). */
  show(camera: string | undefined, ptz: { presets: PtzPreset[] } | undefined): void {
    const movable = ptz && camera !== undefined ? camera : undefined;
    if (movable !== this.camera) {
      this.releaseAll(); // a move never outlives the camera it was for
      this.camera = movable;
    }
    this.root.hidden = movable === undefined;
    this.root.dataset.ptzCamera = movable ?? '';
    const presets = JSON.stringify(ptz?.presets ?? []);
    if (presets === this.shownPresets) return;
    this.shownPresets = presets;
    const list = ptz?.presets ?? [];
    this.presets.hidden = list.length === 0;
    this.presets.replaceChildren(
      new Option('Presets…', ''),
      ...list.map((preset) => new Option(preset.name, preset.token)),
    );
  }

  private onKey(event: KeyboardEvent, down: boolean): void {
    if (this.camera === undefined || !isShortcut(event)) return;
    const control = event.shiftKey && KEYS[event.key] ? KEYS[event.key] : ZOOM_KEYS[event.key];
    if (!control) {
      // Shift let go before the arrow: that arrow's hold ends too.
      if (!down && event.key === 'Shift') this.releaseAll();
      return;
    }
    event.preventDefault();
    if (!down) this.release(control);
    else if (!event.repeat) this.hold(control);
  }

  private hold(control: Control): void {
    if (this.camera === undefined || this.held.has(control)) return;
    this.held.add(control);
    this.root.querySelector(`[data-ptz="${control}"]`)?.setAttribute('aria-pressed', 'true');
    this.changed(control);
    this.repeat ??= setInterval(() => this.keepAlive(), PTZ_KEEPALIVE_MS);
  }

  private release(control: Control): void {
    if (!this.held.delete(control)) return;
    this.root.querySelector(`[data-ptz="${control}"]`)?.removeAttribute('aria-pressed');
    this.changed(control);
  }

  private releaseAll(): void {
    if (this.held.size === 0) return;
    for (const control of [...this.held]) {
      this.root.querySelector(`[data-ptz="${control}"]`)?.removeAttribute('aria-pressed');
    }
    this.held.clear();
    this.changed(undefined);
  }

  /** `control` was pressed or let go: its axis's new speed, or stop when nothing is held. */
  private changed(control: Control | undefined): void {
    const camera = this.camera;
    if (camera === undefined) return;
    if (this.held.size === 0) {
      clearInterval(this.repeat);
      this.repeat = undefined;
      this.send({ cmd: 'ptz', camera, action: 'stop' });
    } else if (control === 'in' || control === 'out') {
      this.send(this.zoomCommand(camera));
    } else {
      this.send(this.moveCommand(camera));
    }
  }

  /**
   * While anything is held: one command, which keeps the whole move alive on the server (pan,
   * tilt and zoom together), so holding more controls sends no more messages.
   */
  private keepAlive(): void {
    const camera = this.camera;
    if (camera === undefined || this.held.size === 0) return;
    const zoomOnly = [...this.held].every((control) => control === 'in' || control === 'out');
    this.send(zoomOnly ? this.zoomCommand(camera) : this.moveCommand(camera));
  }

  private axis(plus: Control, minus: Control): number {
    return ((this.held.has(plus) ? 1 : 0) - (this.held.has(minus) ? 1 : 0)) * SPEED;
  }

  private moveCommand(camera: string): PtzCommand {
    const pan = this.axis('right', 'left');
    return { cmd: 'ptz', camera, action: 'move', pan, tilt: this.axis('up', 'down') };
  }

  private zoomCommand(camera: string): PtzCommand {
    return { cmd: 'ptz', camera, action: 'zoom', zoom: this.axis('in', 'out') };
  }
}
