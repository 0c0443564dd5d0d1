/**
 * camplex as a package: `npm pack` (its prepack builds) makes a tarball with only what runs,
 * which installs into an empty folder from the npm cache this test run already has (no
 * network) and starts with `npx camplex --demo 4`; `--version` and `--help` answer.
 *
 * The install is `npm ci --offline` with a lockfile made from this repository's: a plain
 * `npm install <tarball>` would ask the registry for every package's metadata, which the cache
 * of an `npm ci` does not hold (and tests talk to loopback only).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../support/processes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NPM_TIMEOUT_MS = 120_000;

interface LockEntry {
  version?: string;
  resolved?: string;
  dev?: boolean;
  link?: boolean;
  [key: string]: unknown;
}

describe('camplex installed from its npm tarball', () => {
  const dir = mkdtempSync(join(tmpdir(), 'camplex-package-'));
  const app = join(dir, 'app');
  let tarball = '';
  let running: ChildProcess | undefined;

  before(() => {
    execFileSync('npm', ['pack', '--pack-destination', dir, '--silent'], {
      cwd: ROOT,
      timeout: NPM_TIMEOUT_MS,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const name = readdirSync(dir).find((file) => file.endsWith('.tgz'));
    assert.ok(name, 'npm pack made a tarball');
    tarball = join(dir, name);
  });

  after(() => {
    running?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds only what runs: the build, package.json and the README', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    const outside = files.filter(
      (file) => !/^package\/(dist\/.+|package\.json|README\.md|LICENSE)$/.test(file),
    );
    assert.deepEqual(outside, []);
    for (const needed of ['dist/cli.js', 'dist/public/app.js', 'dist/public/client.js']) {
      assert.ok(files.includes(`package/${needed}`), needed);
    }
    assert.ok(
      files.some((file) => file.startsWith('package/dist/types/')),
      'type definitions',
    );
  });

  it('installs offline into an empty folder and starts with npx camplex --demo 4', async () => {
    installOffline(tarball, app);
    const npx = (args: string[]) =>
      execFileSync('npx', ['--offline', 'camplex', ...args], { cwd: app, encoding: 'utf8' });
    const ownVersion = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
    assert.equal(npx(['--version']).trim(), `camplex ${ownVersion}`);
    const help = npx(['--help']);
    for (const flag of [
      '--config',
      '--host',
      '--port',
      '--demo',
      '--no-auth',
      '--version',
      '--help',
    ]) {
      assert.ok(help.includes(flag), `--help names ${flag}`);
    }
    const child = spawn('npx', ['--offline', 'camplex', '--demo', '4', '--port', '0'], {
      cwd: app,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    running = child;
    let output = '';
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      output += text;
    });
    let url = '';
    await waitFor(
      async () => {
        url = /camplex listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1] ?? '';
        return url !== '';
      },
      { timeoutMs: 20_000, what: 'the installed camplex to listen' },
    );
    const health = (await (await fetch(`${url}healthz`)).json()) as { cameras: number };
    assert.equal(health.cameras, 4);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM'); // npx and camplex below it
    await exited;
    running = undefined;
  });
});

/** `npm ci --offline` of `tarball` into `app`, with a lockfile made from this repository's. */
function installOffline(tarball: string, app: string): void {
  const own = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  const spec = `file:${tarball}`;
  const packages: Record<string, unknown> = {
    '': { name: 'app', dependencies: { camplex: spec } },
    'node_modules/camplex': {
      version: own.version,
      resolved: spec,
      integrity,
      dependencies: own.dependencies,
      optionalDependencies: own.optionalDependencies,
      bin: own.bin,
      engines: own.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev || entry.link) continue;
    // This lockfile leaves `resolved` out; the registry's tarball URL is what the cache holds.
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const resolved =
      entry.resolved ??
      `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${entry.version}.tgz`;
    packages[path] = { ...entry, resolved };
  }
  mkdirSync(app, { recursive: true });
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'app', private: true, dependencies: { camplex: spec } }),
  );
  writeFileSync(
    join(app, 'package-lock.json'),
    JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages }),
  );
  execFileSync('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--silent'], {
    cwd: app,
    timeout: NPM_TIMEOUT_MS,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
