/**
 * The tile's look inside the embeddable elements' shadow roots (the dashboard has its own
 * stylesheet, assets/style.css): a black 16:9 box, the picture contained, a caption with name,
 * rate and state, stale and not-live marks. `<camplex-grid>` lays tiles out in columns of at
 * least 240 px; the host page sizes the elements.
 */
export const TILE_STYLE = `
:host { display: block; }
:host([hidden]) { display: none; }
.box { display: grid; gap: 6px; }
:host(camplex-grid) .box { grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); }
.tile { margin: 0; position: relative; background: #000; color: #e6e8eb; aspect-ratio: 16 / 9;
  overflow: hidden; border-radius: 4px; font: 12px system-ui, sans-serif; }
.tile canvas, .tile video { width: 100%; height: 100%; object-fit: contain; display: block; }
.tile[data-decoder="mse"] canvas, .tile:not([data-decoder="mse"]) video { display: none; }
.tile figcaption { position: absolute; left: 0; right: 0; bottom: 0; display: flex; gap: 6px;
  padding: 3px 6px; background: linear-gradient(transparent, rgb(0 0 0 / 0.75)); }
.tile figcaption span { background: rgb(0 0 0 / 0.6); padding: 1px 5px; border-radius: 3px;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.tile figcaption span:empty { display: none; }
.tile .detail { margin-left: auto; color: #aab2ba; }
.tile .state { color: #8b9299; }
.tile[data-state="live"] .state { color: #3fb950; }
.tile[data-state="retrying"] .state { color: #d29922; }
.tile[data-state="offline"] .state { color: #f85149; }
.tile[data-stale] { box-shadow: inset 0 0 0 2px #d29922; }
.tile[data-stale] .detail { color: #1f2328; background: #d29922; }
.tile:not([data-state="live"]) canvas, .tile:not([data-state="live"]) video { opacity: 0.35; }
`;
