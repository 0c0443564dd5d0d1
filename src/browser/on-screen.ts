/**
 * Which tiles are on screen, for subscribing only what is seen. A tile counts as on screen at
 * once when it scrolls (or pages) into view, and stays so for a short grace after it leaves:
 * a quick scroll past, or a page flipped back, must not stop and restart its stream (go2rtc
 * waits 5 s before stopping an off-screen player). A hidden tab is not on screen at all, at once.
 */

/** How long a tile that left the screen stays subscribed. */
export const OFF_SCREEN_GRACE_MS = 3000;

export class OnScreen {
  private readonly shown = new Set<Element>();
  private readonly leaving = new Map<Element, ReturnType<typeof setTimeout>>();
  private readonly observer: IntersectionObserver;
  private readonly onChange: () => void;

  /** `onChange` is called whenever the answer of `has` may have changed. */
  constructor(onChange: () => void) {
    this.onChange = onChange;
    this.observer = new IntersectionObserver((entries) => {
      let changed = false;
      for (const entry of entries)
        changed = this.seen(entry.target, entry.isIntersecting) || changed;
      if (changed) onChange();
    });
  }

  observe(element: Element): void {
    this.observer.observe(element);
  }

  unobserve(element: Element): void {
    this.observer.unobserve(element);
    clearTimeout(this.leaving.get(element));
    this.leaving.delete(element);
    this.shown.delete(element);
  }

  /** Whether `element` is to be fed now: on screen (or just left it), and the tab visible. */
  has(element: Element): boolean {
    return !document.hidden && this.shown.has(element);
  }

  disconnect(): void {
    this.observer.disconnect();
    for (const timer of this.leaving.values()) clearTimeout(timer);
    this.leaving.clear();
    this.shown.clear();
  }

  /** Takes one observation; true when `has(element)` changed at once. */
  private seen(element: Element, intersecting: boolean): boolean {
    if (intersecting) {
      clearTimeout(this.leaving.get(element));
      this.leaving.delete(element);
      if (this.shown.has(element)) return false;
      this.shown.add(element);
      return true;
    }
    if (!this.shown.has(element) || this.leaving.has(element)) return false;
    this.leaving.set(
      element,
      setTimeout(() => {
        this.leaving.delete(element);
        this.shown.delete(element);
        this.onChange();
      }, OFF_SCREEN_GRACE_MS),
    );
    return false;
  }
}
