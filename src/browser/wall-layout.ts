/**
 * How a camera wall fits a screen: the columns and rows that make every tile as large as
 * possible at the cameras' aspect ratio with nothing scrolling, and how many screens (pages) the
 * cameras need. Pure, so it is unit-tested; the dashboard applies it on load and on resize.
 */

/** More cameras than this on one screen and the wall is split into pages. */
export const MAX_PER_PAGE = 25;
/** Narrower than this and tiles stack in one or two scrolling columns (a phone). */
export const SCROLLING_BELOW_PX = 600;
/** A scrolling column is never narrower than this (two columns only where both fit). */
const MIN_SCROLLING_TILE_PX = 280;

export interface WallSize {
  /** The area the tiles share, in CSS pixels. */
  width: number;
  height: number;
  /** Space between tiles and around them. */
  gap: number;
}

export interface WallLayout {
  /** 'fit': every tile of the page on screen; 'scroll': a column or two that scrolls. */
  mode: 'fit' | 'scroll';
  columns: number;
  /** Tile size in CSS pixels (height 0 in scroll mode: the aspect ratio decides). */
  tileWidth: number;
  tileHeight: number;
  /** Screens the cameras are spread over, and how many go on each. */
  pages: number;
  perPage: number;
}

/** The layout for `count` tiles of `aspect` (width / height) in `size`. */
export function fitWall(count: number, size: WallSize, aspect: number): WallLayout {
  const { width, height, gap } = size;
  if (width < SCROLLING_BELOW_PX) {
    const columns = Math.max(1, Math.min(2, Math.floor((width - gap) / MIN_SCROLLING_TILE_PX)));
    const tileWidth = Math.floor((width - (columns + 1) * gap) / columns);
    return { mode: 'scroll', columns, tileWidth, tileHeight: 0, pages: 1, perPage: count };
  }
  const pages = Math.max(1, Math.ceil(count / MAX_PER_PAGE));
  const perPage = Math.ceil(count / pages);
  let best = { columns: 1, tileWidth: 0 };
  for (let columns = 1; columns <= Math.max(1, perPage); columns++) {
    const rows = Math.ceil(Math.max(1, perPage) / columns);
    const byWidth = (width - (columns + 1) * gap) / columns;
    const byHeight = ((height - (rows + 1) * gap) / rows) * aspect;
    const tileWidth = Math.min(byWidth, byHeight);
    if (tileWidth > best.tileWidth) best = { columns, tileWidth };
  }
  const tileWidth = Math.max(1, Math.floor(best.tileWidth));
  return {
    mode: 'fit',
    columns: best.columns,
    tileWidth,
    tileHeight: Math.max(1, Math.floor(tileWidth / aspect)),
    pages,
    perPage,
  };
}
