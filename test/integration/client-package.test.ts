/**
 * `camplex/client` as a package export: it resolves to the built ESM bundle (which imports
 * nothing: no runtime dependencies) and its type definitions type-check a consumer.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('the camplex/client package export', () => {
  it('resolves to the bundle served as /client.js, which imports nothing', () => {
    const resolved = fileURLToPath(import.meta.resolve('camplex/client'));
    assert.equal(resolved, join(ROOT, 'dist/public/client.js'));
    assert.ok(existsSync(resolved), 'run `npm run build` first');
    const bundle = readFileSync(resolved, 'utf8');
    assert.doesNotMatch(bundle, /\bfrom\s*["']|\bimport\s*\(\s*["']|\bimport\s*["']/, 'no imports');
    assert.match(bundle, /camplex-camera/);
  });

  it('has type definitions a consumer compiles against', () => {
    // Inside the package, so `camplex/client` resolves to this package itself.
    const dir = join(ROOT, 'test-results', 'client-consumer');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'consumer.ts');
    writeFileSync(
      file,
      [
        "import { CameraSocket, CamplexCamera, type CameraInfo } from 'camplex/client';",
        "const socket = new CameraSocket(CameraSocket.urlFor('http://camplex.lan:8080/'), {",
        '  onHello: (cameras: CameraInfo[]) => console.log(cameras.length),',
        '  onState: () => {},',
        '  onFrame: () => {},',
        '  onConnection: () => {},',
        '  onError: () => {},',
        "}, { token: 'x' });",
        'socket.want([], () => []);',
        "const element: CamplexCamera = document.createElement('camplex-camera') as CamplexCamera;",
        'export { element };',
        '// @ts-expect-error: the options take a token string',
        'new CameraSocket("ws://x", {} as never, { token: 5 });',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          noEmit: true,
          strict: true,
          skipLibCheck: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          lib: ['es2023', 'dom', 'dom.iterable'],
          types: ['node'],
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir],
      { cwd: dir, encoding: 'utf8' },
    );
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  });
});
