/** The `camplex` command itself: help, and config errors that stop it before anything starts. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { verifyPassword } from '../../src/access/password.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'camplex-cli-'));

function run(args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 15_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function configFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('camplex command', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('installs a service that gets the variables its config reads, and uninstalls it', () => {
    const home = mkdtempSync(join(dir, 'home-'));
    const file = configFile(
      'service.yaml',
      `cameras:\n  door: { url: "rtsp://10.0.0.5/s", user: admin, password: "${'$'}{DOOR_PW}" }\n`,
    );
    // An empty PATH: nothing of the machine's own systemd is touched.
    const path = mkdtempSync(join(dir, 'path-'));
    const env = { HOME: home, PATH: path, DOOR_PW: 'hunter2', UNUSED: 'x' };
    const service = (action: string) =>
      spawnSync(process.execPath, [CLI, 'service', action, '--config', file], {
        encoding: 'utf8',
        env,
        timeout: 15_000,
      });
    const installed = service('install');
    assert.equal(installed.status, 0, installed.stderr);
    const envFile = join(home, '.config/camplex/camplex.env');
    assert.ok(
      installed.stdout.includes(`wrote ${envFile} (mode 600): DOOR_PW\n`),
      installed.stdout,
    );
    assert.match(readFileSync(envFile, 'utf8'), /^DOOR_PW="hunter2"\n$/m);
    assert.doesNotMatch(readFileSync(envFile, 'utf8'), /UNUSED/, 'only what the config reads');
    const unit = readFileSync(join(home, '.config/systemd/user/camplex.service'), 'utf8');
    assert.ok(unit.includes(`EnvironmentFile=-${envFile}\n`));
    assert.match(service('status').stdout, /installed \(no systemctl here to ask\)/);
    const removed = service('uninstall');
    assert.match(removed.stdout, /ran: systemctl --user disable --now camplex: not run/);
    assert.match(removed.stdout, /^removed .*camplex\.service$/m);
    assert.equal(existsSync(envFile), false);
  });

  it('prints its usage with --help', () => {
    const { code, stdout } = run(['--help']);
    assert.equal(code, 0);
    assert.match(stdout, /^Usage: camplex \[--config FILE\]/);
  });

  it('refuses an unknown flag with exit code 2 and the usage', () => {
    const { code, stderr } = run(['--frobnicate']);
    assert.equal(code, 2);
    assert.match(stderr, /Unknown option '--frobnicate'/);
    assert.match(stderr, /Usage: camplex/);
  });

  it('exits 1 naming the file, the key and what was expected, without listening', () => {
    const file = configFile(
      'bad.yaml',
      'cameras:\n  front:\n    url: rtsp://cam/1\n    fps: fast\n',
    );
    const { code, stdout, stderr } = run(['--config', file, '--port', '0']);
    assert.equal(code, 1);
    assert.equal(
      stderr,
      `camplex: invalid configuration\n${file}: cameras.front.fps: expected number, received string\n`,
    );
    assert.doesNotMatch(stdout, /listening/);
  });

  it('refuses a YAML alias bomb in one line, without a stack trace', () => {
    const levels = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (const name of ['b', 'c', 'd', 'e', 'f', 'g']) {
      const previous = levels.at(-1)?.[0];
      levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(', ')}]`);
    }
    const file = configFile('bomb.yaml', `${levels.join('\n')}\ncameras: {}\n`);
    const { code, stderr } = run(['--config', file, '--port', '0']);
    assert.equal(code, 1);
    assert.equal(
      stderr,
      `camplex: invalid configuration\n${file}: invalid YAML: Excessive alias count indicates a resource exhaustion attack\n`,
    );
  });

  it('exits 1 for a config file that does not exist', () => {
    const file = join(dir, 'missing.yaml');
    const { code, stderr } = run(['--config', file]);
    assert.equal(code, 1);
    assert.equal(
      stderr,
      `camplex: invalid configuration\n${file}: cannot read config: file not found\n`,
    );
  });

  it('exits 1 for a port that is not a number', () => {
    const { code, stderr } = run(['--port', 'http']);
    assert.equal(code, 1);
    assert.match(stderr, /--port: expected a whole number, got "http"/);
  });

  it('exits 1 when the port is taken, saying so', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const { code, stderr } = await new Promise<ReturnType<typeof run>>((resolve) => {
        // spawnSync would block the event loop that keeps the blocking port open
        import('node:child_process').then(({ execFile }) => {
          execFile(
            process.execPath,
            [CLI, '--port', String(port), '--demo', '1'],
            { timeout: 15_000 },
            (error, stdout, stderr) =>
              resolve({
                code: error ? ((error as { code?: number }).code ?? 1) : 0,
                stdout,
                stderr,
              }),
          );
        });
      });
      assert.equal(code, 1);
      assert.match(
        stderr,
        new RegExp(`camplex: cannot listen on 127\\.0\\.0\\.1:${port}: address in use`),
      );
    } finally {
      blocker.close();
    }
  });

  it('refuses to serve a non-loopback address without authentication', () => {
    const { code, stdout, stderr } = run(['--host', '0.0.0.0', '--port', '0', '--demo', '1']);
    assert.equal(code, 1);
    assert.match(stderr, /server\.host: refusing to serve 0\.0\.0\.0 without authentication/);
    assert.match(stderr, /pass --no-auth to accept/);
    assert.doesNotMatch(stdout, /listening/);
  });

  it('prints a password hash that verifies, for auth.users', async () => {
    const result = spawnSync(process.execPath, [CLI, 'hash-password'], {
      input: 'correct horse\n',
      encoding: 'utf8',
      timeout: 15_000,
    });
    assert.equal(result.status, 0);
    const hash = result.stdout.trim();
    assert.match(hash, /^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
    assert.equal(await verifyPassword('correct horse', hash), true);
    assert.equal(await verifyPassword('correct horse ', hash), false);
  });
});
