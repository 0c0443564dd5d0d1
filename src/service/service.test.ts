import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { NODE_FLAGS } from '../common/node-flags.js';
import { parseConfig } from '../config/load.js';
import {
  descriptorsFor,
  installService,
  launchdPlist,
  serviceFile,
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
    const removed = uninstallService(target, home);
    assert.equal(removed.existed, true);
    assert.equal(existsSync(file), false);
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
