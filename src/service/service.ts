/**
 * `camplex service install|uninstall|status`: camplex started at boot by the platform's own
 * service manager, running this camplex (this node, this cli.js) with this config. Linux gets a
 * systemd unit (`--user`, the default, or `--system`); macOS a LaunchAgent plist. Both restart
 * camplex when it fails, raise the open-file limit to fit camplex's socket caps, and log where
 * the platform expects (the journal; ~/Library/Logs/camplex.log).
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
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
}

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
): string {
  return target.platform === 'launchd'
    ? launchdPlist(program, config)
    : systemdUnit(program, config, target.scope);
}

/** Writes the service file; returns its path and the commands that start it. */
export function installService(
  target: ServiceTarget,
  program: ServiceProgram,
  config: Config,
  home = homedir(),
): { file: string; next: string[] } {
  const file = serviceFile(target, home);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, serviceText(target, program, config));
  return { file, next: startCommands(target, file) };
}

/** Removes the service file; returns what it removed and the commands that stop it first. */
export function uninstallService(
  target: ServiceTarget,
  home = homedir(),
): { file: string; existed: boolean; next: string[] } {
  const file = serviceFile(target, home);
  const existed = existsSync(file);
  rmSync(file, { force: true });
  const systemctl = target.scope === 'user' ? 'systemctl --user' : 'systemctl';
  const next =
    target.platform === 'launchd'
      ? [`launchctl bootout gui/$(id -u)/${LAUNCHD_LABEL}`]
      : [`${systemctl} disable --now camplex`, `${systemctl} daemon-reload`];
  return { file, existed, next };
}

function startCommands(target: ServiceTarget, file: string): string[] {
  if (target.platform === 'launchd') return [`launchctl bootstrap gui/$(id -u) ${file}`];
  const systemctl = target.scope === 'user' ? 'systemctl --user' : 'systemctl';
  const linger =
    target.scope === 'user'
      ? ['loginctl enable-linger "$USER"   # run at boot, before you log in']
      : [];
  return [`${systemctl} daemon-reload`, `${systemctl} enable --now camplex`, ...linger];
}

/** The absolute program paths of this camplex. */
export function thisProgram(cliPath: string, config: string | undefined): ServiceProgram {
  return {
    node: process.execPath,
    cli: resolve(cliPath),
    ...(config ? { config: resolve(config) } : {}),
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
