/**
 * The camera wall: which tiles are on screen and how large. Tiles are laid out by fitWall so
 * a screenful fills the window without scrolling (pages past MAX_PER_PAGE, one or two scrolling
 * columns on a phone), re-fitted on resize and fullscreen. One camera can be focused: shown
 * alone, as large as the window allows, named in the URL (`#camera=<id>`) so Back and bookmarks
 * work. Arrow keys move between tiles, Enter focuses one, Esc returns to the grid, PageUp and
 * PageDown turn pages (Shift+arrows are left to a PTZ camera's controls). Tiles that are not shown are `display: none`, so the dashboard's
 * IntersectionObserver unsubscribes them: what is not on screen costs nothing.
 */
import { isShortcut } from './shortcuts.js';
import { fitWall, type WallLayout } from './wall-layout.js';

const GAP_PX = 6;
const DEFAULT_ASPECT = 16 / 9;

export interface WallCamera {
  id: string;
  element: HTMLElement;
  /** Picture width / height, when known. */
  aspect?: number;
}

export interface WallElements {
  grid: HTMLElement;
  /** Shows "page n of m" and the buttons to turn pages. */
  pager: HTMLElement;
}

export class Wall {
  private readonly grid: HTMLElement;
  private readonly pager: HTMLElement;
  private readonly onChange: () => void;
  private cameras: WallCamera[] = [];
  private page = 0;
  private layout: WallLayout | undefined;
  private focusedId: string | undefined;

  /** `onChange` is told when the cameras shown, or the one focused, change. */
  constructor(elements: WallElements, onChange: () => void) {
    this.grid = elements.grid;
    this.pager = elements.pager;
    this.onChange = onChange;
    addEventListener('resize', () => this.render());
    document.addEventListener('fullscreenchange', () => this.render());
    addEventListener('hashchange', () => this.focusFromUrl());
    this.grid.addEventListener('click', (event) => {
      const id = tileOf(event.target)?.dataset.camera;
      if (id !== undefined && this.focusedId === undefined) this.focus(id);
    });
    document.addEventListener('keydown', (event) => this.onKey(event));
    this.pager.addEventListener('click', (event) => {
      const turn = (event.target as HTMLElement).closest<HTMLElement>('[data-turn]')?.dataset.turn;
      if (turn) this.turnPage(Number(turn));
    });
  }

  /** The camera shown alone, if one is. */
  get focused(): string | undefined {
    return this.focusedId;
  }

  /** The cameras on the wall, in order (the others' tiles are removed from the grid). */
  setCameras(cameras: readonly WallCamera[]): void {
    this.cameras = [...cameras];
    const elements = this.cameras.map((camera) => camera.element);
    const current = [...this.grid.children];
    if (elements.length !== current.length || elements.some((e, i) => e !== current[i])) {
      this.grid.replaceChildren(...elements);
    }
    // The camera shown alone left the wall (a reload removed it): the URL stops naming it, or
    // its return would take the page over again.
    if (this.focusedId !== undefined && !this.cameras.some((c) => c.id === this.focusedId)) {
      history.replaceState(null, '', location.pathname + location.search);
    }
    this.focusFromUrl();
    this.render();
  }

  /** Shows `id` alone (undefined: back to the grid), recorded in the URL. */
  focus(id: string | undefined): void {
    if (id === this.focusedId) return;
    if (id === undefined) {
      // Back to the grid: undo our own history entry when we made one, so Back stays sane.
      if (history.state?.camplexFocus) history.back();
      else history.replaceState(null, '', location.pathname + location.search);
    } else {
      history.pushState({ camplexFocus: true }, '', `#camera=${encodeURIComponent(id)}`);
    }
    this.applyFocus(id);
  }

  /** Fullscreen for the focused camera, else for the whole wall; again to leave it. */
  toggleFullscreen(): void {
    if (document.fullscreenElement) {
      void document.exitFullscreen();
      return;
    }
    const target = this.focusedId ? this.tileOf(this.focusedId) : this.grid;
    void target?.requestFullscreen().catch(() => {});
  }

  private applyFocus(id: string | undefined): void {
    const known = id !== undefined && this.cameras.some((camera) => camera.id === id);
    const focused = known ? id : undefined;
    if (focused === this.focusedId) return;
    this.focusedId = focused;
    if (focused) {
      const index = this.cameras.findIndex((camera) => camera.id === focused);
      if (this.layout) this.page = Math.floor(index / this.layout.perPage);
    }
    this.render();
    if (focused) this.tileOf(focused)?.focus();
    this.onChange();
  }

  private focusFromUrl(): void {
    const match = /^#camera=(.+)$/.exec(location.hash);
    this.applyFocus(match ? decodeURIComponent(match[1] as string) : undefined);
  }

  private turnPage(by: number): void {
    const pages = this.layout?.pages ?? 1;
    const page = Math.min(pages - 1, Math.max(0, this.page + by));
    if (page === this.page) return;
    this.page = page;
    this.render();
    this.onChange();
  }

  /** Lays the tiles out for the window as it is now. */
  private render(): void {
    const area = this.area();
    const focused = this.focusedId;
    const count = focused ? 1 : this.cameras.length;
    const aspect = focused ? this.aspectOf(focused) : this.commonAspect();
    const layout = fitWall(count, area, aspect);
    this.layout = focused ? { ...layout, pages: this.layout?.pages ?? 1 } : layout;
    if (!focused) this.page = Math.min(this.page, layout.pages - 1);
    const first = this.page * layout.perPage;
    this.cameras.forEach((camera, i) => {
      const shown = focused ? camera.id === focused : i >= first && i < first + layout.perPage;
      camera.element.hidden = !shown;
      camera.element.classList.toggle('focused', camera.id === focused);
    });
    const style = this.grid.style;
    style.setProperty('--columns', String(layout.columns));
    style.setProperty('--tile-width', `${layout.tileWidth}px`);
    style.setProperty(
      '--tile-height',
      layout.mode === 'fit' ? `${layout.tileHeight}px` : `${layout.tileWidth / aspect}px`,
    );
    style.setProperty('--gap', `${GAP_PX}px`);
    style.setProperty('--wall-height', `${Math.floor(area.height)}px`);
    this.grid.dataset.layout = layout.mode;
    this.grid.dataset.columns = String(layout.columns);
    document.body.classList.toggle('fits', layout.mode === 'fit');
    document.body.classList.toggle('focusing', focused !== undefined);
    this.renderPager(focused ? 1 : layout.pages);
  }

  private renderPager(pages: number): void {
    this.pager.hidden = pages <= 1;
    if (pages <= 1) return;
    this.pager.replaceChildren(
      pagerButton('‹', -1, 'Previous page', this.page === 0),
      Object.assign(document.createElement('span'), {
        className: 'page',
        textContent: `${this.page + 1} / ${pages}`,
      }),
      pagerButton('›', 1, 'Next page', this.page === pages - 1),
    );
    this.pager.dataset.page = String(this.page + 1);
    this.pager.dataset.pages = String(pages);
  }

  /** The space tiles share: the fullscreen element, or the window below the grid's top. */
  private area(): { width: number; height: number; gap: number } {
    const full = document.fullscreenElement;
    if (full) return { width: full.clientWidth, height: full.clientHeight, gap: GAP_PX };
    const top = this.grid.getBoundingClientRect().top + scrollY;
    return {
      width: document.documentElement.clientWidth,
      height: innerHeight - top,
      gap: GAP_PX,
    };
  }

  private aspectOf(id: string): number {
    return this.cameras.find((camera) => camera.id === id)?.aspect ?? DEFAULT_ASPECT;
  }

  /** The aspect most cameras have (16:9 until sizes are known). */
  private commonAspect(): number {
    const counts = new Map<number, number>();
    for (const camera of this.cameras) {
      if (camera.aspect === undefined) continue;
      const key = Math.round(camera.aspect * 100) / 100;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    let best: [number, number] = [DEFAULT_ASPECT, 0];
    for (const entry of counts) if (entry[1] > best[1]) best = entry;
    return best[0];
  }

  private tileOf(id: string): HTMLElement | undefined {
    return this.cameras.find((camera) => camera.id === id)?.element;
  }

  private onKey(event: KeyboardEvent): void {
    if (event.defaultPrevented || !isShortcut(event)) return;
    const tile = tileOf(event.target);
    const id = tile?.dataset.camera;
    switch (event.key) {
      case 'Escape':
        if (this.focusedId && !document.fullscreenElement) this.focus(undefined);
        return;
      case 'Enter':
        if (id !== undefined && !this.focusedId) {
          event.preventDefault();
          this.focus(id);
        }
        return;
      case 'PageDown':
      case 'PageUp':
        if (this.focusedId) return;
        event.preventDefault();
        this.turnPage(event.key === 'PageDown' ? 1 : -1);
        return;
      case 'ArrowLeft':
      case 'ArrowRight':
      case 'ArrowUp':
      case 'ArrowDown':
        // Focused, Shift+arrows move a PTZ camera (ptz-controls.ts), not the page.
        if (event.shiftKey && this.focusedId) return;
        event.preventDefault();
        this.move(id, event.key);
        return;
    }
  }

  /** Arrow keys: to the next tile shown (a focused camera: to the next camera, focused). */
  private move(from: string | undefined, key: string): void {
    const columns = this.layout?.columns ?? 1;
    const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns, ArrowDown: columns }[key] ?? 0;
    if (this.focusedId) {
      if (key !== 'ArrowLeft' && key !== 'ArrowRight') return;
      const index = this.cameras.findIndex((camera) => camera.id === this.focusedId);
      const next =
        this.cameras[(index + Math.sign(step) + this.cameras.length) % this.cameras.length];
      if (next) {
        history.replaceState(history.state, '', `#camera=${encodeURIComponent(next.id)}`);
        this.applyFocus(next.id);
      }
      return;
    }
    const shown = this.cameras.filter((camera) => !camera.element.hidden);
    const index = shown.findIndex((camera) => camera.id === from);
    const next = index < 0 ? shown[0] : shown[index + step];
    next?.element.focus();
  }
}

function tileOf(target: EventTarget | null): HTMLElement | undefined {
  return (target as HTMLElement | null)?.closest<HTMLElement>('[data-camera]') ?? undefined;
}

function pagerButton(text: string, turn: number, label: string, disabled: boolean): HTMLElement {
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = text;
  button.dataset.turn = String(turn);
  button.title = label;
  button.setAttribute('aria-label', label);
  button.disabled = disabled;
  return button;
}
