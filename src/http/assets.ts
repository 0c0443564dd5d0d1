/**
 * The dashboard's built files (dist/public), read once into memory at start. Only names in this
 * map are ever served, so no request path reaches the file system.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';

export interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
  '.png': 'image/png',
};

/** Maps URL paths (`/`, `/app.js`, ...) to the files of `publicDir`. */
export function loadAssets(publicDir: string): Map<string, Asset> {
  if (!existsSync(join(publicDir, 'index.html'))) {
    throw new Error(`dashboard files missing in ${publicDir}: run \`npm run build\` first`);
  }
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(publicDir)) {
    const type = TYPES[extname(name)];
    if (type === undefined) continue;
    const asset = { body: readFileSync(join(publicDir, name)), type };
    assets.set(`/${name}`, asset);
    if (name === 'index.html') assets.set('/', asset);
  }
  return assets;
}
