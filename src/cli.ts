/** The `camplex` command: parse flags, load config, start, and shut down cleanly on signals. */
import { readFileSync, watch } from 'node:fs';
import { basename, dirname, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { hashPassword } from './access/password.js';
import { systemClock } from './common/clock.js';
import { createLog } from './common/log.js';
import {
  ConfigError,
  type ConfigOverrides,
  DEFAULT_DEMO_CAMERAS,
  loadConfig,
} from './config/load.js';
import { redactorFor } from './config/secrets.js';
import { formatReport, runDoctor } from './doctor/doctor.js';
import { locateFfmpeg } from './ffmpeg/locate.js';
import { Redactor } from './guard/redactor.js';
import { unfitForListener } from './reload/listener-fit.js';
import { Reloader } from './reload/reloader.js';
import { startCamplex } from './server.js';
import {
  installService,
  type ServiceTarget,
  serviceStatus,
  serviceText,
  thisProgram,
  uninstallService,
} from './service/service.js';

const USAGE = `Usage: camplex [--config FILE] [--host HOST] [--port PORT] [--demo N] [--no-auth]
       camplex hash-password     (reads a password on stdin, prints its hash for auth.users)
       camplex service install|uninstall|status [--config FILE] [--system] [--print]
                                 (starts camplex at boot: a systemd unit, --user unless
                                 --system, or a macOS LaunchAgent; --print shows it only)
       camplex doctor [--config FILE] [--json]
                                 (checks ffmpeg and probes every camera as camplex would: codec,
                                 size, rate, key frames, what browsers get, advice; exit code 1
                                 when something fails)
       camplex --version | --help

  --config FILE  YAML config with cameras (without it: ${DEFAULT_DEMO_CAMERAS} built-in demo cameras)
  --host HOST    address to listen on (default 127.0.0.1)
  --port PORT    port to listen on, 0 for any free port (default 8080)
  --demo N       add N built-in demo cameras (ffmpeg test sources)
  --no-auth      allow a non-loopback address without authentication (anyone who can reach
                 it sees every camera)
  --version      print camplex's version
  --help         show this help

Signals: SIGINT or SIGTERM stop camplex (a second one kills every ffmpeg at once); SIGHUP
reloads the config file (also done when the file is saved): cameras added, removed and changed,
groups, users and tokens apply at once (open connections too); server, limits, stream, ffmpeg
and cluster need a restart.
Docs: README.md, docs/ (CLUSTER.md, CLIENT.md, INTEGRATIONS.md, SECURITY.md, PROTOCOL.md).

Environment: CAMPLEX_PASSWORD (and CAMPLEX_USER, default admin) or CAMPLEX_TOKEN set a
password or API token without a config file; LOG_LEVEL sets the log level.
`;

/** A save often comes as several writes, and a SIGHUP may follow it: reload once they settled. */
const RELOAD_SETTLE_MS = 300;

// The process's one logger: the entry point owns it so the exit path can flush it. Its
// redactor learns the config's secrets once the config is read.
const redactor = new Redactor();
const log = createLog({ redact: (line) => redactor.redactJsonLine(line) });

/** Everything camplex writes to stderr goes through here: no secret gets out that way either. */
function printError(text: string): void {
  process.stderr.write(redactor.redact(text));
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'hash-password') return printPasswordHash();
  if (argv[0] === 'doctor') return doctor(argv.slice(1));
  if (argv[0] === 'service') return service(argv.slice(1));
  let flags: ReturnType<typeof parse>;
  try {
    flags = parse(argv);
  } catch (error) {
    process.stderr.write(`camplex: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (flags.version) {
    process.stdout.write(`camplex ${version()}\n`);
    return 0;
  }
  let config: ReturnType<typeof loadConfig>;
  let overrides: ConfigOverrides;
  try {
    overrides = {
      ...(flags.host !== undefined ? { host: flags.host } : {}),
      ...(flags.port !== undefined ? { port: toNumber('--port', flags.port) } : {}),
      ...(flags.demo !== undefined ? { demo: toNumber('--demo', flags.demo) } : {}),
      ...(flags['no-auth'] ? { noAuth: true } : {}),
      ...(process.env.CAMPLEX_PASSWORD
        ? { envPasswordHash: hashPassword(process.env.CAMPLEX_PASSWORD) }
        : {}),
    };
    config = loadConfig(flags.config, overrides);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    printError(`camplex: invalid configuration\n${error.message}\n`);
    return 1;
  }
  let ffmpeg: ReturnType<typeof locateFfmpeg>;
  try {
    ffmpeg = locateFfmpeg(config.ffmpeg.path);
  } catch (error) {
    printError(`camplex: ${(error as Error).message}\n`);
    return 1;
  }
  redactorFor(config, process.env, redactor);
  if (redactor.shortestSecret() < 4) {
    log.warn(
      'a camera password or token is shorter than 4 characters: it is redacted wherever it ' +
        'appears in logs, which will mangle unrelated words',
    );
  }
  log.info(
    { ffmpeg: ffmpeg.path, version: ffmpeg.version, from: ffmpeg.origin },
    `using ffmpeg ${ffmpeg.version} from ${ffmpeg.origin} (${ffmpeg.path})`,
  );
  const publicDir = fileURLToPath(new URL('./public/', import.meta.url));
  let camplex: Awaited<ReturnType<typeof startCamplex>>;
  try {
    camplex = await startCamplex({ config, ffmpeg, log, publicDir, redactor });
  } catch (error) {
    printError(`camplex: ${(error as Error).message}\n`);
    return 1;
  }
  // Whatever ends this process (an uncaught error included), no ffmpeg outlives it.
  process.on('exit', () => camplex.killChildren());
  log.info(
    { url: camplex.url, cameras: config.cameras.length, config: config.source },
    `camplex listening on ${camplex.url} with ${config.cameras.length} cameras (${config.source})`,
  );

  return new Promise<number>((resolve) => {
    let shuttingDown = false;
    const shutdown = (signal: NodeJS.Signals) => {
      if (shuttingDown) {
        // A second Ctrl-C: stop waiting, but still take every ffmpeg down with us.
        log.warn({ signal }, 'second signal: exiting now');
        resolve(1);
        return;
      }
      shuttingDown = true;
      log.info({ signal }, 'shutting down');
      const force = setTimeout(() => {
        log.error('shutdown took longer than 5 s: exiting anyway');
        resolve(1);
      }, 5000);
      force.unref();
      void camplex.close().then(() => {
        clearTimeout(force);
        log.info('stopped');
        resolve(0);
      });
    };
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
    // systemctl reload / kill -HUP, or the file saved: apply it without dropping viewers.
    const file = flags.config;
    if (file === undefined) {
      process.on('SIGHUP', () => log.info('SIGHUP: no config file to reload (demo cameras)'));
    } else {
      const listening = config.server.host;
      const reloader = new Reloader({
        load: () => {
          const next = loadConfig(file, overrides); // the command line's flags still apply
          redactorFor(next, process.env, redactor);
          return next;
        },
        check: (next) => unfitForListener(listening, next),
        apply: (next) => camplex.reload(next),
        redact: (text) => redactor.redact(text),
        log,
        clock: systemClock,
        settleMs: RELOAD_SETTLE_MS,
      });
      process.on('SIGHUP', () => void reloader.request('SIGHUP'));
      watchFile(file, () => void reloader.request('file saved'));
    }
  });
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      host: { type: 'string' },
      port: { type: 'string', short: 'p' },
      demo: { type: 'string' },
      'no-auth': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
    strict: true,
    allowPositionals: false,
  }).values;
}

/** Calls `onChange` when `file` changes, even when an editor replaces it. */
function watchFile(file: string, onChange: () => void): void {
  const name = basename(file);
  try {
    // The folder, not the file: editors save by writing a new file and renaming it over.
    watch(dirname(resolvePath(file)), { persistent: false }, (_event, changed) => {
      if (changed === null || changed === name) onChange();
    });
  } catch (error) {
    log.warn({ err: (error as Error).message }, 'cannot watch the config file: reload with SIGHUP');
  }
}

/** `camplex service install|uninstall|status`: the platform's service for this camplex. */
async function service(argv: string[]): Promise<number> {
  let parsed: {
    values: { config?: string; system?: boolean; print?: boolean };
    positionals: string[];
  };
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        system: { type: 'boolean' },
        print: { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    process.stderr.write(`camplex service: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const [action] = parsed.positionals;
  const { config: file, system, print } = parsed.values;
  if (action !== 'install' && action !== 'uninstall' && action !== 'status') {
    process.stderr.write(`camplex service: expected install, uninstall or status\n\n${USAGE}`);
    return 2;
  }
  const target: ServiceTarget = {
    platform: process.platform === 'darwin' ? 'launchd' : 'systemd',
    scope: system ? 'system' : 'user',
  };
  if (action === 'status') {
    const status = serviceStatus(target);
    process.stdout.write(`${status.text}\n`);
    return status.installed ? 0 : 1;
  }
  if (action === 'uninstall') {
    const result = uninstallService(target);
    for (const line of result.ran) process.stdout.write(`ran: ${line}\n`);
    process.stdout.write(`${result.existed ? 'removed' : 'was not there:'} ${result.file}\n`);
    return 0;
  }
  // The variables the config reads, as set now: the service gets them, not this shell's.
  const read = new Set<string>();
  const env = new Proxy(process.env, {
    get(target, name) {
      if (typeof name === 'string') read.add(name);
      return target[name as string];
    },
  });
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(file, { env }); // a service must not start with a config that does not load
  } catch (error) {
    printError(`camplex service: ${(error as Error).message}\n`);
    return 1;
  }
  const environment = Object.fromEntries(
    [...read].flatMap((name) => {
      const value = process.env[name];
      return value === undefined ? [] : [[name, value]];
    }),
  );
  const program = thisProgram(fileURLToPath(import.meta.url), file, environment);
  if (print) {
    process.stdout.write(serviceText(target, program, config));
    return 0;
  }
  const result = installService(target, program, config);
  const names = Object.keys(environment).join(', ');
  process.stdout.write(
    `wrote ${result.file}\n${result.environment ? `wrote ${result.environment} (mode 600): ${names}\n` : ''}` +
      `now: ${result.next.join('\n     ')}\n`,
  );
  return 0;
}

/** `camplex doctor`: ffmpeg and every camera checked, as text or JSON; 1 when any failed. */
async function doctor(argv: string[]): Promise<number> {
  let flags: { config?: string; json?: boolean };
  try {
    flags = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } },
      strict: true,
    }).values;
  } catch (error) {
    process.stderr.write(`camplex doctor: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  let config: ReturnType<typeof loadConfig>;
  let ffmpeg: ReturnType<typeof locateFfmpeg>;
  try {
    config = loadConfig(flags.config);
    ffmpeg = locateFfmpeg(config.ffmpeg.path);
  } catch (error) {
    printError(`camplex doctor: ${(error as Error).message}\n`);
    return 1;
  }
  redactorFor(config, process.env, redactor);
  const report = await runDoctor(config, ffmpeg, redactor, (stream, index, count) => {
    printError(`probing ${stream.id} (${index + 1}/${count})...\n`);
  });
  const text = flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report);
  process.stdout.write(redactor.redact(text));
  return report.ok ? 0 : 1;
}

/** The version in camplex's package.json (beside dist/, where this file runs from). */
function version(): string {
  try {
    const file = new URL('../package.json', import.meta.url);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `camplex hash-password`: one line of stdin (typed, or piped) to an scrypt hash. */
async function printPasswordHash(): Promise<number> {
  if (process.stdin.isTTY) process.stderr.write('Password (input is hidden): ');
  const password = await readLine(Boolean(process.stdin.isTTY));
  if (password === '') {
    process.stderr.write('camplex: no password given\n');
    return 1;
  }
  process.stdout.write(`${hashPassword(password)}\n`);
  return 0;
}

function readLine(hidden: boolean): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    let finished = false;
    if (hidden) process.stdin.setRawMode(true);
    process.stdin.setEncoding('utf8');
    const done = () => {
      if (finished) return;
      finished = true;
      if (hidden) {
        process.stdin.setRawMode(false);
        process.stderr.write('\n');
      }
      process.stdin.pause();
      resolve(text.replace(/\r?\n[\s\S]*$/, ''));
    };
    process.stdin.on('data', (chunk: string) => {
      for (const char of chunk) {
        if (hidden && char === '\u0003') process.exit(130); // Ctrl-C in raw mode
        if (char === '\n' || char === '\r') return done();
        if (hidden && char === '\u007f') text = text.slice(0, -1);
        else text += char;
      }
    });
    process.stdin.on('end', done);
  });
}

function toNumber(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value)) {
    throw new ConfigError(`${flag}: expected a whole number, got ${JSON.stringify(text)}`);
  }
  return value;
}

main(process.argv.slice(2)).then(
  // Async log writes may still be queued: let them out before exiting.
  (code) => log.flush(() => process.exit(code)),
  (error: unknown) => {
    printError(
      `camplex: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
