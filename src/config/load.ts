/** Reads, validates and freezes the configuration once at start. */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { CamplexError, ErrorCodes } from '../protocol/errors.js';
import { demoCameras } from './demo.js';
import { CAMERA_ID_PATTERN, type CameraConfig, type Config, configSchema } from './schema.js';

export const DEFAULT_DEMO_CAMERAS = 16;

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
  const raw: unknown = document.toJS() ?? {};
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
    cameras.push({ id, name: camera.name ?? id, ...camera });
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
  return deepFreeze({
    origin,
    server: { host: overrides.host ?? file.server.host, port },
    ffmpeg: file.ffmpeg.path === undefined ? {} : { path: file.ffmpeg.path },
    stream: {
      graceMs: Math.round(file.stream.graceSeconds * 1000),
      pingMs: Math.round(file.stream.pingSeconds * 1000),
      slowViewerMs: Math.round(file.stream.slowViewerSeconds * 1000),
      maxFrameBytes: file.stream.maxFrameBytes,
      maxBufferedBytes: file.stream.maxBufferedBytes,
    },
    cameras,
  });
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
