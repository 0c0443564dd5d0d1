'use strict';
/**
 * The B6 baseline: the same cameras through rtsp-relay, set up as its README shows (express,
 * one WebSocket route per camera, MPEG1 in MPEG-TS for JSMpeg), plus the page a user would
 * write: one canvas per camera, each fed by rtsp-relay's `loadPlayer`.
 *
 * Usage: node bench/b6/relay-server.cjs RTSP_URL...   Prints `READY <port>` once listening on
 * 127.0.0.1; exits when stdin ends or on SIGTERM.
 *
 * Nothing here is fetched from the network: rtsp-relay takes ffmpeg's path from ffmpeg-static,
 * whose install script downloads a binary (not possible here, and refused in package.json's
 * allowScripts); ffmpeg-static returns $FFMPEG_BIN when set, so it is pointed at Debian's ffmpeg
 * before rtsp-relay is loaded. rtsp-relay's browser script loads JSMpeg from a CDN unless
 * `window.JSMpeg` exists, so the page loads a packaged JSMpeg (@cycjimmy/jsmpeg-player) first.
 */
const { dirname, join } = require('node:path');

process.env.FFMPEG_BIN = process.env.FFMPEG_BIN || '/usr/bin/ffmpeg';

const express = require('express');
const rtspRelay = require('rtsp-relay');

const JSMPEG = join(
  dirname(require.resolve('@cycjimmy/jsmpeg-player')),
  'jsmpeg-player.umd.min.js',
);
const RELAY_BROWSER = require.resolve('rtsp-relay/browser/index.js');

const urls = process.argv.slice(2);
if (urls.length === 0) {
  process.stderr.write('usage: relay-server.cjs RTSP_URL...\n');
  process.exit(2);
}

const app = express();
const { proxy } = rtspRelay(app);
// One handler per camera, so each camera has one ffmpeg however many sockets watch it.
const handlers = urls.map((url) => proxy({ url, transport: 'tcp', verbose: false }));

app.ws('/api/stream/:n', (ws, req) => {
  const handler = handlers[Number(req.params.n)];
  if (handler) handler(ws);
  else ws.close(1008, 'no such camera');
});
app.get('/jsmpeg.js', (_req, res) => res.type('js').sendFile(JSMPEG));
app.get('/rtsp-relay.js', (_req, res) => res.type('js').sendFile(RELAY_BROWSER));
app.get('/', (_req, res) => res.type('html').send(page(urls.length)));

/** One canvas per camera; `window.decoded[i]` counts frames JSMpeg decoded and drew for it. */
function page(count) {
  const canvases = Array.from({ length: count }, (_, i) => `<canvas id="cam${i}"></canvas>`);
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>rtsp-relay baseline</title>
<style>
  body { margin: 0; display: grid; grid-template-columns: repeat(4, 1fr); gap: 4px; }
  canvas { width: 100%; background: #000; }
</style></head>
<body>
${canvases.join('\n')}
<script src="/jsmpeg.js"></script>
<script src="/rtsp-relay.js"></script>
<script>
  window.decoded = new Array(${count}).fill(0);
  window.players = [];
  window.renderers = [];
  (async () => {
    // rtsp-relay: "If you intend to create multiple players, you must await for this promise
    // to complete before creating the next player."
    for (let i = 0; i < ${count}; i++) {
      const player = await loadPlayer({
        url: 'ws://' + location.host + '/api/stream/' + i,
        canvas: document.getElementById('cam' + i),
        audio: false,
        onVideoDecode: () => { window.decoded[i]++; },
      });
      window.players.push(player);
      window.renderers.push(
        player.renderer instanceof JSMpeg.Renderer.WebGL ? 'WebGL' : 'Canvas2D');
    }
  })();
</script>
</body></html>
`;
}

const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});

function shutdown() {
  server.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.stdin.on('end', shutdown);
process.stdin.resume();
