/**
 * The flags node runs camplex with, wherever camplex starts it: the `camplex` command's first
 * line (scripts/build.mjs), `npm start`, the service unit and the tests and benchmarks.
 *
 * A young generation of at most 4 MB a half instead of V8's 16: camplex keeps every camera's
 * units since its last key unit (a late viewer's catch-up), so some of what it makes survives a
 * collection, and V8 grows the young generation to its largest. With 16 MB halves the old
 * generation's headroom is then smaller than the young generation, and V8 starts a full
 * marking every second or two although the heap does not grow: on a 16-camera wall that was
 * a fifth of node's CPU per frame (docs/BENCHMARKS.md, "Node's young generation").
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
