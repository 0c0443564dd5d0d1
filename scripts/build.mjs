#!/usr/bin/env node
// Builds dist/: the server (one ESM file, dependencies left to node_modules), the dashboard's
// browser bundle with its static files, and the embeddable client (`camplex/client`, served as
// /client.js) with its type definitions. Kept in one script so `npm start` and tests agree.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
const publicDir = join(dist, 'public');
mkdirSync(publicDir, { recursive: true });

await build({
  entryPoints: [join(root, 'src/cli.ts')],
  outfile: join(dist, 'cli.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  // The flags of src/common/node-flags.ts (a unit test keeps the two alike).
  banner: { js: '#!/usr/bin/env -S node --max-semi-space-size=4' },
  logLevel: 'warning',
});
chmodSync(join(dist, 'cli.js'), 0o755);

/** A browser bundle: one ESM file with everything it uses inside (no runtime dependencies). */
const browserBundle = (entry, out) =>
  build({
    entryPoints: [join(root, entry)],
    outfile: join(publicDir, out),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'chrome100',
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
  });
await browserBundle('src/browser/main.ts', 'app.js');
await browserBundle('src/browser/client.ts', 'client.js');

execFileSync(
  process.execPath,
  [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.client.json')],
  { stdio: 'inherit' },
);

const assets = join(root, 'src/browser/assets');
for (const name of readdirSync(assets)) copyFileSync(join(assets, name), join(publicDir, name));
