#!/usr/bin/env node
// Builds dist/: the server (one ESM file, dependencies left to node_modules) and the
// browser bundle with its static files. Kept in one script so `npm start` and tests agree.
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
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
chmodSync(join(dist, 'cli.js'), 0o755);

await build({
  entryPoints: [join(root, 'src/browser/main.ts')],
  outfile: join(publicDir, 'app.js'),
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'chrome100',
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
});

const assets = join(root, 'src/browser/assets');
for (const name of readdirSync(assets)) copyFileSync(join(assets, name), join(publicDir, name));
