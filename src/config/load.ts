/** Reads, validates and freezes the configuration once at start. */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { hashPassword } from '../access/password.js';
import { CamplexError, ErrorCodes } from '../protocol/errors.js';
import { demoCameras } from './demo.js';
import { CAMERA_ID_PATTERN, type CameraConfig, type Config, configSchema } from './schema.js';

export const DEFAULT_DEMO_CAMERAS = 16;
/** Aliases a config may expand: plenty for hand-written YAML, too few for an alias bomb. */
const MAX_ALIAS_COUNT = 100;

/** A config problem: the message names the file, the key path and what was expected. */
export class ConfigError extends CamplexError {
  constructor(message: string) {
    super(ErrorCodes.CONFIG, message);
    this.name = 'ConfigError';
  }
}

export interface ConfigOverrides {
  host?: string;
  port?: number;
  /** Adds this many demo cameras (with no config file, 16 are added when unset). */
  demo?: number;
  /** Serve a non-loopback address without authentication (--no-auth). */
  noAuth?: boolean;
  /** For `${VAR}` in the YAML and CAMPLEX_PASSWORD / CAMPLEX_USER / CAMPLEX_TOKEN. */
  env?: NodeJS.ProcessEnv;
}

/** Loads `file` (or the built-in demo setup when undefined) and applies CLI overrides. */
export function loadConfig(file: string | undefined, overrides: ConfigOverrides = {}): Config {
  if (file === undefined) {
    return parseConfig('', 'built-in demo', {
      ...overrides,
      demo: overrides.demo ?? DEFAULT_DEMO_CAMERAS,
    });
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String(error);
    throw new ConfigError(`${file}: cannot read config: ${reason}`);
  }
  return parseConfig(text, file, overrides);
}

/** Parses config text; `origin` names it in every error message. */
export function parseConfig(text: string, origin: string, overrides: ConfigOverrides = {}): Config {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const syntaxError = document.errors[0];
  if (syntaxError) {
    throw new ConfigError(`${origin}: invalid YAML: ${firstLine(syntaxError.message)}`);
  }
  const env = overrides.env ?? process.env;
  let tree: unknown;
  try {
    tree = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // yaml refuses alias bombs ("billion laughs") here, with a ReferenceError.
    throw new ConfigError(`${origin}: invalid YAML: ${firstLine((error as Error).message)}`);
  }
  const raw: unknown = substituteEnv(tree ?? {}, env, origin, []);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(origin, parsed.error.issues));

  const file = parsed.data;
  const cameras: CameraConfig[] = [];
  for (const [id, camera] of Object.entries(file.cameras)) {
    if (!CAMERA_ID_PATTERN.test(id)) {
      throw new ConfigError(
        `${origin}: cameras.${JSON.stringify(id)}: camera ids must be 1-64 characters of ` +
          'A-Z a-z 0-9 . _ - (they appear in URLs and on the wire)',
      );
    }
    cameras.push({
      id,
      name: camera.name ?? id,
      ...camera,
      url: withCredentials(origin, id, camera.url, camera.user, camera.password),
    });
  }
  const demo = overrides.demo ?? 0;
  if (!Number.isInteger(demo) || demo < 0 || demo > 256) {
    throw new ConfigError(
      `--demo: expected a whole number of demo cameras from 0 to 256, got ${demo}`,
    );
  }
  for (const camera of demoCameras(demo)) {
    if (cameras.some((c) => c.id === camera.id)) {
      throw new ConfigError(`${origin}: cameras.${camera.id}: clashes with a --demo camera id`);
    }
    cameras.push(camera);
  }
  if (cameras.length === 0) {
    throw new ConfigError(
      `${origin}: cameras: expected at least one camera (run without --config for demo cameras)`,
    );
  }
  const port = overrides.port ?? file.server.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`--port: expected a port number from 0 to 65535, got ${overrides.port}`);
  }
  const host = overrides.host ?? file.server.host;
  const users: Record<string, string> = { ...file.auth.users };
  const tokens: Record<string, string> = { ...file.auth.tokens };
  if (env.CAMPLEX_PASSWORD) users[env.CAMPLEX_USER || 'admin'] = hashPassword(env.CAMPLEX_PASSWORD);
  if (env.CAMPLEX_TOKEN) {
    if (!/^[A-Za-z0-9._~+/=-]{32,512}$/.test(env.CAMPLEX_TOKEN)) {
      throw new ConfigError(
        'CAMPLEX_TOKEN: expected a token of 32-512 characters (letters, digits, ._~+/=-)',
      );
    }
    tokens.env = env.CAMPLEX_TOKEN;
  }
  const authConfigured = Object.keys(users).length > 0 || Object.keys(tokens).length > 0;
  if (!authConfigured && !isLoopback(host) && !overrides.noAuth) {
    throw new ConfigError(
      `${origin}: server.host: refusing to serve ${host} without authentication: add auth.users ` +
        '(hashes from `camplex hash-password`) or auth.tokens, set CAMPLEX_PASSWORD or ' +
        'CAMPLEX_TOKEN, or pass --no-auth to accept that anyone who can reach it sees every camera',
    );
  }
  const tls = file.server.tls && {
    cert: readPem(origin, 'server.tls.cert', file.server.tls.cert),
    key: readPem(origin, 'server.tls.key', file.server.tls.key),
  };
  if (file.server.redirectHttpPort !== undefined && !tls) {
    throw new ConfigError(`${origin}: server.redirectHttpPort: only makes sense with server.tls`);
  }
  const limits = file.limits;
  if (limits.headersTimeoutSeconds > limits.requestTimeoutSeconds) {
    throw new ConfigError(
      `${origin}: limits.headersTimeoutSeconds: ${limits.headersTimeoutSeconds} is longer than ` +
        `limits.requestTimeoutSeconds (${limits.requestTimeoutSeconds}): headers are part of the request`,
    );
  }
  return deepFreeze({
    origin,
    server: {
      host,
      port,
      ...(tls ? { tls } : {}),
      ...(file.server.redirectHttpPort !== undefined
        ? { redirectHttpPort: file.server.redirectHttpPort }
        : {}),
      allowedOrigins: file.server.allowedOrigins,
      allowedHosts: file.server.allowedHosts.map((name) => name.toLowerCase()),
      trustedProxies: file.server.trustedProxies,
    },
    auth: { users, tokens, sessionMs: Math.round(file.auth.sessionHours * 3600_000) },
    limits: {
      maxControlMessageBytes: limits.maxControlMessageBytes,
      maxMessagesPerSecond: limits.maxMessagesPerSecond,
      maxCamerasPerCommand: limits.maxCamerasPerCommand,
      maxCamerasPerSocket: limits.maxCamerasPerSocket,
      ...(limits.maxSocketsPerIp !== undefined ? { maxSocketsPerIp: limits.maxSocketsPerIp } : {}),
      ...(limits.maxSockets !== undefined ? { maxSockets: limits.maxSockets } : {}),
      idleMs: Math.round(limits.idleSeconds * 1000),
      headersTimeoutMs: Math.round(limits.headersTimeoutSeconds * 1000),
      requestTimeoutMs: Math.round(limits.requestTimeoutSeconds * 1000),
      authFailuresPerMinute: limits.authFailuresPerMinute,
    },
    ffmpeg: file.ffmpeg.path === undefined ? {} : { path: file.ffmpeg.path },
    stream: {
      graceMs: Math.round(file.stream.graceSeconds * 1000),
      pingMs: Math.round(file.stream.pingSeconds * 1000),
      slowViewerMs: Math.round(file.stream.slowViewerSeconds * 1000),
      maxFrameBytes: file.stream.maxFrameBytes,
      maxBufferedBytes: file.stream.maxBufferedBytes,
      maxUnackedBytes: file.stream.maxUnackedBytes,
    },
    cameras,
  });
}

/**
 * `url` with `user` and `password` as its user info, URL-encoded (ffmpeg decodes them), so a
 * password may hold spaces, '/', '@' or ':' as it is.
 */
function withCredentials(
  origin: string,
  id: string,
  url: string,
  user: string | undefined,
  password: string | undefined,
): string {
  if (user === undefined && password === undefined) return url;
  const where = `${origin}: cameras.${id}`;
  const match = /^((?:rtsps?|https?):\/\/)([^/?#]*)(.*)$/is.exec(url);
  if (!match) {
    throw new ConfigError(`${where}: user/password need an rtsp:// or http(s):// url`);
  }
  const [, scheme = '', authority = '', rest = ''] = match;
  if (authority.includes('@')) {
    throw new ConfigError(
      `${where}: the url has credentials already: put them in user/password, not in both`,
    );
  }
  const userinfo = `${encodeURIComponent(user ?? '')}${password === undefined ? '' : `:${encodeURIComponent(password)}`}`;
  return `${scheme}${userinfo}@${authority}${rest}`;
}

/** True for addresses only this machine can reach. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Replaces `${NAME}` in every string of the parsed YAML with the environment's value. */
function substituteEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  origin: string,
  path: string[],
): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_all, name: string) => {
      const found = env[name];
      if (found === undefined) {
        throw new ConfigError(
          `${origin}: ${path.join('.')}: environment variable ${name} is not set`,
        );
      }
      return found;
    });
  }
  if (Array.isArray(value))
    return value.map((item, i) => substituteEnv(item, env, origin, [...path, String(i)]));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        substituteEnv(item, env, origin, [...path, key]),
      ]),
    );
  }
  return value;
}

/** Reads a PEM file named in the config, relative to the config file's folder. */
function readPem(origin: string, key: string, file: string): string {
  const path = resolve(dirname(origin), file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `${origin}: ${key}: cannot read ${path}: ${code === 'ENOENT' ? 'file not found' : code}`,
    );
  }
  if (!text.includes('-----BEGIN ')) {
    throw new ConfigError(`${origin}: ${key}: ${path} is not a PEM file`);
  }
  return text;
}

function formatIssues(origin: string, issues: readonly z.core.$ZodIssue[]): string {
  const lines = issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
    return `${origin}: ${path}: ${describeIssue(issue)}`;
  });
  return lines.join('\n');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  return issue.message.replace(/^Invalid input: /, '');
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/:$/, '');
}
