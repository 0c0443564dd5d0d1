/**
 * `camplex service install|uninstall|status`: camplex started at boot by the platform's own
 * service manager, running this camplex (this node, this cli.js) with this config. Linux gets a
 * systemd unit (`--user`, the default, or `--system`); macOS a LaunchAgent plist. Both restart
 * camplex when it fails, raise the open-file limit to fit camplex's socket caps, and log where
 * the platform expects (the journal; ~/Library/Logs/camplex.log).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { NODE_FLAGS } from '../common/node-flags.js';
import type { Config } from '../config/schema.js';

export interface ServiceTarget {
  platform: 'systemd' | 'launchd';
  /** systemd only: a unit of the user's own manager, or of the system's. */
  scope: 'user' | 'system';
}

export interface ServiceProgram {
  /** Absolute paths: the node binary and camplex's cli.js. */
  node: string;
  cli: string;
  /** Absolute path of the config file (none: the demo cameras). */
  config?: string;
  /**
   * The environment variables the config reads (`${VAR}`, CAMPLEX_PASSWORD...) as they are set
   * at install: a service does not see the installing shell's environment, so they are written
   * where it reads them (a file of mode 600, or the plist).
   */
  environment?: Readonly<Record<string, string>>;
}

/** How the service's commands run (systemctl, launchctl); status null when there is none. */
export type RunCommand = (
  command: string,
  args: string[],
) => { status: number | null; output: string };

const runCommand: RunCommand = (command, args) => {
  const run = spawnSync(command, args, { encoding: 'utf8', timeout: 15_000 });
  // What it says on stdout (a state: enabled, active...), else why it failed.
  const output = (run.stdout ?? '').trim() || (run.stderr ?? '').trim();
  return { status: run.error ? null : run.status, output };
};

const UNIT_NAME = 'camplex.service';
const LAUNCHD_LABEL = 'org.camplex.camplex';
/** Descriptors beyond the sockets: ffmpeg pipes, files, the event loop's own. */
const DESCRIPTOR_HEADROOM = 1024;

/** Where the service's file goes. */
export function serviceFile(target: ServiceTarget, home = homedir()): string {
  if (target.platform === 'launchd')
    return join(home, 'Library/LaunchAgents', `${LAUNCHD_LABEL}.plist`);
  return target.scope === 'user'
    ? join(home, '.config/systemd/user', UNIT_NAME)
    : join('/etc/systemd/system', UNIT_NAME);
}

/** systemd only: the file the unit reads its environment from (`${VAR}` of the config). */
export function environmentFile(scope: 'user' | 'system', home = homedir()): string {
  return scope === 'user' ? join(home, '.config/camplex/camplex.env') : '/etc/camplex/camplex.env';
}

/**
 * Open files camplex may need: its socket caps (configured, else what it would derive from a
 * generous limit) plus four per camera stream (ffmpeg's pipes) and headroom.
 */
export function descriptorsFor(config: Config): number {
  const sockets = config.limits.maxSockets ?? 16_384;
  const streams = config.cameras.length * 2;
  return sockets + streams * 4 + DESCRIPTOR_HEADROOM;
}

/** The systemd unit that runs `program`. */
export function systemdUnit(
  program: ServiceProgram,
  config: Config,
  scope: 'user' | 'system',
  home = homedir(),
): string {
  const args = [
    program.node,
    ...NODE_FLAGS,
    program.cli,
    ...(program.config ? ['--config', program.config] : []),
  ];
  return [
    '[Unit]',
    'Description=camplex camera hub',
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    // the variables the config reads (`-`: none needed when it reads none); the rest of the
    // line is the path, unquoted, where only specifiers (%) need escaping
    `EnvironmentFile=-${environmentFile(scope, home).replaceAll('%', '%%')}`,
    `ExecStart=${args.map(quoteForSystemd).join(' ')}`,
    // systemctl reload camplex: SIGHUP, on which camplex reloads its config file
    'ExecReload=/bin/kill -HUP $MAINPID',
    'Restart=on-failure',
    'RestartSec=5',
    // a second signal makes camplex kill every ffmpeg at once; give the first one time
    'TimeoutStopSec=15',
    `LimitNOFILE=${descriptorsFor(config)}`,
    // logs are JSON lines on stdout: the journal keeps them (journalctl -u camplex)
    'StandardOutput=journal',
    'StandardError=journal',
    '',
    '[Install]',
    `WantedBy=${scope === 'user' ? 'default.target' : 'multi-user.target'}`,
    '',
  ].join('\n');
}

/** The LaunchAgent that runs `program` (macOS). */
export function launchdPlist(program: ServiceProgram, config: Config, home = homedir()): string {
  const args = [
    program.node,
    ...NODE_FLAGS,
    program.cli,
    ...(program.config ? ['--config', program.config] : []),
  ];
  const log = join(home, 'Library/Logs/camplex.log');
  const files = descriptorsFor(config);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    '<dict>',
    `  <key>Label</key><string>${LAUNCHD_LABEL}</string>`,
    '  <key>ProgramArguments</key>',
    '  <array>',
    ...args.map((arg) => `    <string>${escapeXml(arg)}</string>`),
    '  </array>',
    ...(Object.keys(program.environment ?? {}).length > 0
      ? [
          '  <key>EnvironmentVariables</key>',
          '  <dict>',
          ...Object.entries(program.environment ?? {}).map(
            ([name, value]) =>
              `    <key>${escapeXml(name)}</key><string>${escapeXml(value)}</string>`,
          ),
          '  </dict>',
        ]
      : []),
    '  <key>RunAtLoad</key><true/>',
    // restart when it fails, not when it was stopped on purpose
    '  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>',
    '  <key>ThrottleInterval</key><integer>5</integer>',
    `  <key>SoftResourceLimits</key><dict><key>NumberOfFiles</key><integer>${files}</integer></dict>`,
    `  <key>HardResourceLimits</key><dict><key>NumberOfFiles</key><integer>${files}</integer></dict>`,
    `  <key>StandardOutPath</key><string>${escapeXml(log)}</string>`,
    `  <key>StandardErrorPath</key><string>${escapeXml(log)}</string>`,
    '</dict>',
    '</plist>',
    '',
  ].join('\n');
}

/** The service file's text for `target`. */
export function serviceText(
  target: ServiceTarget,
  program: ServiceProgram,
  config: Config,
  home = homedir(),
): string {
  return target.platform === 'launchd'
    ? launchdPlist(program, config, home)
    : systemdUnit(program, config, target.scope, home);
}

/**
 * Writes the service file, and the variables the config reads where the service reads them:
 * systemd's environment file (camplex's own, written whole at each install, removed when the
 * config reads none) or the plist, either only ever readable by its owner. Returns what it
 * wrote and the commands that start it.
 */
export function installService(
  target: ServiceTarget,
  program: ServiceProgram,
  config: Config,
  home = homedir(),
): { file: string; environment?: string; next: string[] } {
  const file = serviceFile(target, home);
  mkdirSync(dirname(file), { recursive: true });
  const variables = Object.entries(program.environment ?? {});
  const text = serviceText(target, program, config, home);
  if (target.platform === 'launchd') {
    (variables.length > 0 ? writePrivate : writeFileSync)(file, text); // the plist holds them
    return { file, next: startCommands(target, file) };
  }
  writeFileSync(file, text);
  const envFile = environmentFile(target.scope, home);
  if (variables.length === 0) {
    rmSync(envFile, { force: true }); // an earlier install's variables go with its config
    return { file, next: startCommands(target, file) };
  }
  mkdirSync(dirname(envFile), { recursive: true });
  const lines = variables.map(([name, value]) => `${name}=${quoteEnvironmentValue(value)}\n`);
  writePrivate(
    envFile,
    `# written by camplex service install: the variables its config reads\n${lines.join('')}`,
  );
  return { file, environment: envFile, next: startCommands(target, file) };
}

/**
 * Writes `text` to `file` so that no one but its owner can read it at any moment: into a new
 * file created with mode 600, then renamed over `file`.
 */
function writePrivate(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  rmSync(temporary, { force: true });
  writeFileSync(temporary, text, { mode: 0o600, flag: 'wx' });
  renameSync(temporary, file);
}

/**
 * A value in systemd's environment-file syntax: in double quotes, where a backslash makes
 * `"`, `\\`, `` ` `` and `$` plain (anything else, a newline too, stands as it is).
 */
function quoteEnvironmentValue(value: string): string {
  return `"${value.replace(/["\\`$]/g, (c) => `\\${c}`)}"`;
}

/**
 * Stops and disables the service (while its file is still there for systemd to read), then
 * removes its file and environment file. Returns what it removed and what it ran, with how
 * each went (a machine without systemctl or launchctl runs nothing).
 */
export function uninstallService(
  target: ServiceTarget,
  home = homedir(),
  run: RunCommand = runCommand,
): { file: string; existed: boolean; ran: string[] } {
  const file = serviceFile(target, home);
  const existed = existsSync(file);
  const commands: Array<[string, string[]]> =
    target.platform === 'launchd'
      ? [['launchctl', ['bootout', `gui/${userInfo().uid}/${LAUNCHD_LABEL}`]]]
      : [['systemctl', systemctlArgs(target, 'disable', '--now', 'camplex')]];
  const ran = existed ? commands.map(([command, args]) => ranLine(command, args, run)) : [];
  rmSync(file, { force: true });
  if (target.platform === 'systemd') {
    rmSync(environmentFile(target.scope, home), { force: true });
    if (existed) ran.push(ranLine('systemctl', systemctlArgs(target, 'daemon-reload'), run));
  }
  return { file, existed, ran };
}

/** What the service manager says of camplex, or only whether its file is there. */
export function serviceStatus(
  target: ServiceTarget,
  home = homedir(),
  run: RunCommand = runCommand,
): { installed: boolean; text: string } {
  const file = serviceFile(target, home);
  const installed = existsSync(file);
  if (!installed) return { installed, text: `${file}: not installed` };
  if (target.platform === 'launchd') {
    const listed = run('launchctl', ['list', LAUNCHD_LABEL]);
    if (listed.status === null) return { installed, text: `${file}: installed` };
    return {
      installed,
      text: `${file}: installed, ${listed.status === 0 ? 'loaded' : 'not loaded'}`,
    };
  }
  const enabled = run('systemctl', systemctlArgs(target, 'is-enabled', 'camplex'));
  if (enabled.status === null)
    return { installed, text: `${file}: installed (no systemctl here to ask)` };
  const active = run('systemctl', systemctlArgs(target, 'is-active', 'camplex'));
  return {
    installed,
    text: `${file}: installed, ${enabled.output || 'unknown'}, ${active.output || 'unknown'}`,
  };
}

function ranLine(command: string, args: string[], run: RunCommand): string {
  const { status, output } = run(command, args);
  const line = [command, ...args].join(' ');
  if (status === null) return `${line}: not run (no ${command} here)`;
  return status === 0 ? line : `${line}: exit ${status}${output ? ` (${output})` : ''}`;
}

/** systemctl's arguments for `target`'s manager: the user's own (`--user`) or the system's. */
function systemctlArgs(target: ServiceTarget, ...args: string[]): string[] {
  return [...(target.scope === 'user' ? ['--user'] : []), ...args];
}

function startCommands(target: ServiceTarget, file: string): string[] {
  if (target.platform === 'launchd') return [`launchctl bootstrap gui/$(id -u) ${file}`];
  const systemctl = ['systemctl', ...systemctlArgs(target)].join(' ');
  const linger =
    target.scope === 'user'
      ? ['loginctl enable-linger "$USER"   # run at boot, before you log in']
      : [];
  return [`${systemctl} daemon-reload`, `${systemctl} enable --now camplex`, ...linger];
}

/** The absolute program paths of this camplex. */
export function thisProgram(
  cliPath: string,
  config: string | undefined,
  environment: Readonly<Record<string, string>> = {},
): ServiceProgram {
  return {
    node: process.execPath,
    cli: resolve(cliPath),
    ...(config ? { config: resolve(config) } : {}),
    environment,
  };
}

/** systemd splits ExecStart on spaces and treats quotes, `%` and `$` specially. */
function quoteForSystemd(arg: string): string {
  const escaped = arg.replaceAll('%', '%%').replaceAll('$', '$$');
  return /[\s"'\\]/.test(escaped)
    ? `"${escaped.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
    : escaped;
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
