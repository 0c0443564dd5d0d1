import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { NODE_FLAGS } from '../common/node-flags.js';
import { parseConfig } from '../config/load.js';
import {
  descriptorsFor,
  environmentFile,
  installService,
  launchdPlist,
  serviceFile,
  serviceStatus,
  systemdUnit,
  uninstallService,
} from './service.js';

const dir = mkdtempSync(join(tmpdir(), 'camplex-service-'));
const config = parseConfig('cameras:\n  front: { url: "rtsp://10.0.0.5/s" }\n', 'camplex.yaml');
const program = {
  node: process.execPath,
  cli: join(dir, 'camplex dist', 'cli.js'), // a space, as in a real home folder
  config: join(dir, 'camplex.yaml'),
};
writeFileSync(program.config, 'cameras: {}\n');

describe('camplex service', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const scope of ['user', 'system'] as const) {
    it(`writes a ${scope} systemd unit that systemd-analyze verify accepts`, () => {
      const unit = systemdUnit(program, config, scope);
      const file = join(dir, `${scope}`, 'camplex.service');
      spawnSync('mkdir', ['-p', join(dir, scope)]);
      writeFileSync(file, unit);
      const runtime = mkdtempSync(join(dir, 'runtime-'));
      const verify = spawnSync(
        '/usr/bin/systemd-analyze',
        ['verify', ...(scope === 'user' ? ['--user'] : []), file],
        { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: runtime } },
      );
      const about = `${verify.stdout}${verify.stderr}`
        .split('\n')
        .filter((line) => line.includes('camplex.service'));
      assert.equal(verify.status, 0, about.join('\n'));
      assert.deepEqual(about, [], 'no complaint about camplex.service');
      assert.match(unit, /^Restart=on-failure$/m);
      assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
      assert.match(unit, new RegExp(`^LimitNOFILE=${descriptorsFor(config)}$`, 'm'));
      assert.match(
        unit,
        /^ExecStart=\S+ --max-semi-space-size=4 "[^"]*camplex dist\/cli\.js" --config \S+$/m,
      );
      assert.match(
        unit,
        scope === 'user' ? /WantedBy=default\.target/ : /WantedBy=multi-user\.target/,
      );
    });
  }

  it('writes a LaunchAgent plist that parses, restarts on failure and logs to ~/Library/Logs', () => {
    const file = join(dir, 'camplex.plist');
    writeFileSync(file, launchdPlist(program, config, '/Users/ann'));
    const read = spawnSync(
      '/usr/bin/python3',
      [
        '-c',
        'import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1],"rb"))))',
        file,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(read.status, 0, read.stderr);
    const plist = JSON.parse(read.stdout) as Record<string, unknown>;
    assert.deepEqual(plist.ProgramArguments, [
      program.node,
      ...NODE_FLAGS,
      program.cli,
      '--config',
      program.config,
    ]);
    assert.deepEqual(plist.KeepAlive, { SuccessfulExit: false });
    assert.equal(plist.RunAtLoad, true);
    assert.equal(plist.StandardOutPath, '/Users/ann/Library/Logs/camplex.log');
    assert.deepEqual(plist.SoftResourceLimits, { NumberOfFiles: descriptorsFor(config) });
  });

  it('installs into the home folder and uninstalls again', () => {
    const home = join(dir, 'home');
    const target = { platform: 'systemd', scope: 'user' } as const;
    const { file, next } = installService(target, program, config, home);
    assert.equal(file, serviceFile(target, home));
    assert.equal(file, join(home, '.config/systemd/user/camplex.service'));
    assert.ok(readFileSync(file, 'utf8').includes('ExecStart='));
    assert.deepEqual(next.slice(0, 2), [
      'systemctl --user daemon-reload',
      'systemctl --user enable --now camplex',
    ]);
    // Never the machine's own systemctl from a test.
    const removed = uninstallService(target, home, () => ({ status: 0, output: '' }));
    assert.equal(removed.existed, true);
    assert.equal(existsSync(file), false);
  });

  it('gives the service the variables its config reads, in a file only its owner can read', () => {
    const home = join(dir, 'home-env');
    const target = { platform: 'systemd', scope: 'user' } as const;
    const envFile = environmentFile('user', home);
    mkdirSync(dirname(envFile), { recursive: true });
    writeFileSync(envFile, 'OLD_PASSWORD="from an earlier config"\n', { mode: 0o644 });
    const environment = { DOOR_PASSWORD: 'pa"ss $HOME \\ `x`', CAMPLEX_TOKEN: 'tok' };
    const installed = installService(target, { ...program, environment }, config, home);
    assert.equal(installed.environment, envFile);
    assert.equal(statSync(envFile).mode & 0o777, 0o600);
    assert.equal(
      readFileSync(envFile, 'utf8'),
      '# written by camplex service install: the variables its config reads\n' +
        'DOOR_PASSWORD="pa\\"ss \\$HOME \\\\ \\`x\\`"\nCAMPLEX_TOKEN="tok"\n',
      "the earlier config's variable is gone",
    );
    const unit = readFileSync(installed.file, 'utf8');
    assert.match(unit, new RegExp(`^EnvironmentFile=-${envFile}$`, 'm'));
    assert.doesNotMatch(unit, /pa"ss|tok/, 'no secret in the unit');
    assert.match(
      systemdUnit(program, config, 'system'),
      /^EnvironmentFile=-\/etc\/camplex\/camplex\.env$/m,
    );
    // A config that reads no variable: the service gets none of the last install's.
    installService(target, program, config, home);
    assert.equal(existsSync(envFile), false);
    const plistFile = serviceFile({ platform: 'launchd', scope: 'user' }, home);
    installService(
      { platform: 'launchd', scope: 'user' },
      { ...program, environment },
      config,
      home,
    );
    assert.equal(statSync(plistFile).mode & 0o777, 0o600);
    assert.match(readFileSync(plistFile, 'utf8'), /<key>CAMPLEX_TOKEN<\/key><string>tok<\/string>/);
  });

  it('stops and disables the service before removing its files, and says what it ran', () => {
    const home = join(dir, 'home-uninstall');
    const target = { platform: 'systemd', scope: 'user' } as const;
    const installed = installService(
      target,
      { ...program, environment: { DOOR_PASSWORD: 'x' } },
      config,
      home,
    );
    const calls: string[] = [];
    const removed = uninstallService(target, home, (command, args) => {
      calls.push(
        `${[command, ...args].join(' ')} (unit file there: ${existsSync(installed.file)})`,
      );
      return { status: 0, output: '' };
    });
    assert.deepEqual(calls, [
      'systemctl --user disable --now camplex (unit file there: true)',
      'systemctl --user daemon-reload (unit file there: false)',
    ]);
    assert.deepEqual(removed.ran, [
      'systemctl --user disable --now camplex',
      'systemctl --user daemon-reload',
    ]);
    assert.equal(existsSync(installed.file), false);
    assert.equal(existsSync(environmentFile('user', home)), false, 'no secret left behind');
    const none = uninstallService(target, home, () => ({ status: null, output: '' }));
    assert.deepEqual(none, { file: installed.file, existed: false, ran: [] });
  });

  it("asks systemd for the service's state, and says when it cannot", () => {
    const home = join(dir, 'home-status');
    const target = { platform: 'systemd', scope: 'user' } as const;
    assert.equal(serviceStatus(target, home).installed, false);
    installService(target, program, config, home);
    const answers: Record<string, string> = { 'is-enabled': 'enabled', 'is-active': 'failed' };
    const status = serviceStatus(target, home, (_command, args) => ({
      status: args.at(-2) === 'is-active' ? 3 : 0,
      output: answers[args.at(-2) ?? ''] ?? '',
    }));
    assert.match(status.text, /camplex\.service: installed, enabled, failed$/);
    const bare = serviceStatus(target, home, () => ({ status: null, output: '' }));
    assert.match(bare.text, /installed \(no systemctl here to ask\)$/);
  });

  it('starts node with the same flags everywhere: the command, npm start and the service', () => {
    const root = new URL('../../', import.meta.url);
    const build = readFileSync(new URL('scripts/build.mjs', root), 'utf8');
    const shebang = /banner: \{ js: '(#![^']*)' \}/.exec(build)?.[1];
    assert.equal(shebang, `#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
    const scripts = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')).scripts;
    assert.match(scripts.start, new RegExp(`node ${NODE_FLAGS.join(' ')} dist/cli\\.js$`));
    assert.ok(systemdUnit(program, config, 'user').includes(` ${NODE_FLAGS.join(' ')} `));
  });
});
