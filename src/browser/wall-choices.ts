/**
 * What the viewer chose for the wall, remembered in localStorage: the order of the cameras,
 * the ones hidden, and the group shown (the config's `groups` become tabs above the wall). The
 * "Arrange" dialog edits order and hidden cameras; cameras the choices do not know yet (new in
 * the config) come last, in the server's order.
 */
import type { CameraInfo } from '../protocol/wire.js';

const STORAGE_KEY = 'camplex.wall';
/** The tab that shows every camera. */
const ALL = '';

interface Stored {
  order: string[];
  hidden: string[];
  group: string;
}

export class WallChoices {
  private readonly tabs: HTMLElement;
  private readonly onChange: () => void;
  private readonly dialog: HTMLDialogElement;
  private readonly list: HTMLOListElement;
  private stored: Stored = load();
  private cameras: CameraInfo[] = [];
  private groups: Record<string, string[]> = {};

  /** `onChange` is told whenever the cameras shown, or their order, change. */
  constructor(tabs: HTMLElement, arrange: HTMLElement, onChange: () => void) {
    this.tabs = tabs;
    this.onChange = onChange;
    this.dialog = document.createElement('dialog');
    this.dialog.id = 'arrange-dialog';
    this.dialog.setAttribute('aria-label', 'Arrange cameras');
    const title = Object.assign(document.createElement('h2'), { textContent: 'Arrange cameras' });
    this.list = document.createElement('ol');
    const reset = button('Reset', 'reset');
    const done = button('Done', 'done');
    const actions = document.createElement('div');
    actions.className = 'actions';
    actions.append(reset, done);
    this.dialog.append(title, this.list, actions);
    document.body.append(this.dialog);
    arrange.addEventListener('click', () => {
      this.renderList();
      this.dialog.showModal();
    });
    done.addEventListener('click', () => this.dialog.close());
    reset.addEventListener('click', () => {
      this.stored = { order: [], hidden: [], group: this.stored.group };
      this.save();
    });
    this.list.addEventListener('click', (event) => this.onListClick(event));
    this.list.addEventListener('change', (event) => {
      const box = event.target as HTMLInputElement;
      const id = box.closest<HTMLElement>('[data-id]')?.dataset.id;
      if (id === undefined) return;
      const hidden = new Set(this.stored.hidden);
      if (box.checked) hidden.delete(id);
      else hidden.add(id);
      this.stored.hidden = [...hidden];
      this.save();
    });
    this.tabs.addEventListener('click', (event) => {
      const group = (event.target as HTMLElement).closest<HTMLElement>('[data-group]')?.dataset
        .group;
      if (group === undefined || group === this.stored.group) return;
      this.stored.group = group;
      this.save();
    });
  }

  setCameras(cameras: readonly CameraInfo[], groups: Record<string, string[]> = {}): void {
    this.cameras = [...cameras];
    this.groups = groups;
    if (this.stored.group !== ALL && !Object.hasOwn(groups, this.stored.group)) {
      this.stored.group = ALL;
    }
    this.renderTabs();
  }

  /** The cameras to put on the wall, in order, out of `ids` (the server's order). */
  shown(ids: readonly string[]): string[] {
    const group = this.stored.group === ALL ? undefined : new Set(this.groups[this.stored.group]);
    const hidden = new Set(this.stored.hidden);
    return this.ordered(ids).filter((id) => !hidden.has(id) && (!group || group.has(id)));
  }

  private ordered(ids: readonly string[]): string[] {
    const known = new Set(ids);
    const first = this.stored.order.filter((id) => known.has(id));
    const placed = new Set(first);
    return [...first, ...ids.filter((id) => !placed.has(id))];
  }

  private onListClick(event: Event): void {
    const target = event.target as HTMLElement;
    const move = target.closest<HTMLElement>('[data-move]')?.dataset.move;
    const id = target.closest<HTMLElement>('[data-id]')?.dataset.id;
    if (move === undefined || id === undefined) return;
    const order = this.ordered(this.cameras.map((camera) => camera.id));
    const from = order.indexOf(id);
    const to = from + Number(move);
    if (from < 0 || to < 0 || to >= order.length) return;
    order.splice(to, 0, ...order.splice(from, 1));
    this.stored.order = order;
    this.save();
    this.list
      .querySelector<HTMLElement>(`[data-id="${CSS.escape(id)}"] [data-move="${move}"]`)
      ?.focus();
  }

  private save(): void {
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(this.stored));
    } catch {
      // storage full or refused (private mode): the choice holds until the page is left
    }
    this.renderTabs();
    if (this.dialog.open) this.renderList();
    this.onChange();
  }

  private renderTabs(): void {
    const names = Object.keys(this.groups);
    this.tabs.hidden = names.length === 0;
    this.tabs.replaceChildren(
      ...[ALL, ...names].map((group) => {
        const tab = button(group === ALL ? 'All' : group, undefined);
        tab.dataset.group = group;
        tab.setAttribute('aria-pressed', String(group === this.stored.group));
        return tab;
      }),
    );
  }

  private renderList(): void {
    const names = new Map(this.cameras.map((camera) => [camera.id, camera.name]));
    const hidden = new Set(this.stored.hidden);
    const order = this.ordered(this.cameras.map((camera) => camera.id));
    this.list.replaceChildren(
      ...order.map((id, i) => {
        const item = document.createElement('li');
        item.dataset.id = id;
        const label = document.createElement('label');
        const box = Object.assign(document.createElement('input'), {
          type: 'checkbox',
          checked: !hidden.has(id),
        });
        label.append(box, ` ${names.get(id) ?? id}`);
        const up = button('↑', undefined, `Move ${names.get(id) ?? id} up`);
        up.dataset.move = '-1';
        up.disabled = i === 0;
        const down = button('↓', undefined, `Move ${names.get(id) ?? id} down`);
        down.dataset.move = '1';
        down.disabled = i === order.length - 1;
        item.append(label, up, down);
        return item;
      }),
    );
  }
}

function button(text: string, id: string | undefined, label?: string): HTMLButtonElement {
  const element = document.createElement('button');
  element.type = 'button';
  element.textContent = text;
  if (id) element.dataset.action = id;
  if (label) element.setAttribute('aria-label', label);
  return element;
}

function load(): Stored {
  const fallback: Stored = { order: [], hidden: [], group: ALL };
  try {
    const value: unknown = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null');
    if (typeof value !== 'object' || value === null) return fallback;
    const { order, hidden, group } = value as Partial<Record<keyof Stored, unknown>>;
    const strings = (list: unknown) =>
      Array.isArray(list) ? list.filter((item): item is string => typeof item === 'string') : [];
    return {
      order: strings(order),
      hidden: strings(hidden),
      group: typeof group === 'string' ? group : ALL,
    };
  } catch {
    return fallback;
  }
}
