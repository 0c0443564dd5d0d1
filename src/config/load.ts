/**
 * Reads the config once at start: YAML, `${VAR}` from the environment, command-line and
 * environment overrides merged in, then one parse against the schema, frozen. Every problem is
 * a ConfigError naming where it came from (the file and key, or the flag or variable) and what
 * was expected.
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { hashPassword } from '../access/password.js';
import { CamplexError, ErrorCodes } from '../common/errors.js';
import { demoCameras } from './demo.js';
import { type Config, configSchema } from './schema.js';

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
  /**
   * CAMPLEX_PASSWORD's hash, made once per process: a hash has a fresh salt each time, and a
   * reload must not see a changed password (which ends that user's sessions) where there is none.
   */
  envPasswordHash?: string;
}

const demoCount = z.int().min(0).max(256);

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

/** Parses config text; `source` names it in every error message. */
export function parseConfig(text: string, source: string, overrides: ConfigOverrides = {}): Config {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const syntaxError = document.errors[0];
  if (syntaxError?.code === 'DUPLICATE_KEY' && syntaxError.linePos) {
    // Say which key: most often a camera id written twice.
    const { line, col } = syntaxError.linePos[0];
    const at = (text.split('\n')[line - 1] ?? '').slice(col - 1);
    const key = /^("[^"]*"|'[^']*'|[^:#,{}[\]]+?)\s*:/.exec(at)?.[1];
    if (key !== undefined) {
      throw new ConfigError(
        `${source}: invalid YAML: key ${JSON.stringify(key.replace(/^["']|["']$/g, ''))} given twice in one map, at line ${line}, column ${col}`,
      );
    }
  }
  if (syntaxError) {
    throw new ConfigError(`${source}: invalid YAML: ${firstLine(syntaxError.message)}`);
  }
  let tree: unknown;
  try {
    tree = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // yaml refuses alias bombs ("billion laughs") here, with a ReferenceError.
    throw new ConfigError(`${source}: invalid YAML: ${firstLine((error as Error).message)}`);
  }
  const env = overrides.env ?? process.env;
  const raw = substituteEnv(tree ?? {}, env, source, []);
  const labels = mergeOverrides(raw, overrides, env, source);
  const parsed = configSchema({ name: source, folder: dirname(source) }).safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(source, labels, parsed.error.issues));
  return deepFreeze(parsed.data);
}

/**
 * Writes the command line's and the environment's settings into `raw` (the file's tree) so
 * one schema checks them all; returns which key paths they set, to name them in errors.
 */
function mergeOverrides(
  raw: Record<string, unknown>,
  overrides: ConfigOverrides,
  env: NodeJS.ProcessEnv,
  source: string,
): Map<string, string> {
  const labels = new Map<string, string>();
  const set = (path: string[], value: unknown, label: string) => {
    let node = raw;
    for (const key of path.slice(0, -1)) {
      const child = node[key];
      node[key] = typeof child === 'object' && child !== null ? child : {};
      node = node[key] as Record<string, unknown>;
    }
    node[path.at(-1) ?? ''] = value;
    labels.set(path.join('.'), label);
  };
  if (overrides.host !== undefined) set(['server', 'host'], overrides.host, '--host');
  if (overrides.port !== undefined) set(['server', 'port'], overrides.port, '--port');
  if (overrides.noAuth) set(['auth', 'open'], true, '--no-auth');
  if (env.CAMPLEX_PASSWORD) {
    const user = env.CAMPLEX_USER || 'admin';
    const hash = overrides.envPasswordHash ?? hashPassword(env.CAMPLEX_PASSWORD);
    set(['auth', 'users', user], hash, 'CAMPLEX_USER');
  }
  if (env.CAMPLEX_TOKEN) set(['auth', 'tokens', 'env'], env.CAMPLEX_TOKEN, 'CAMPLEX_TOKEN');
  const demo = demoCount.safeParse(overrides.demo ?? 0);
  if (!demo.success) {
    throw new ConfigError(
      `--demo: expected a whole number of demo cameras from 0 to 256, got ${overrides.demo}`,
    );
  }
  const fileCameras = (raw.cameras ?? {}) as Record<string, unknown>;
  for (const camera of demoCameras(demo.data)) {
    if (camera.id in fileCameras) {
      throw new ConfigError(`${source}: cameras.${camera.id}: clashes with a --demo camera id`);
    }
    const { id, ...settings } = camera;
    set(['cameras', id], settings, '--demo');
  }
  return labels;
}

/** Replaces `${NAME}` in every string of the parsed YAML with the environment's value. */
function substituteEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  source: string,
  path: string[],
): Record<string, unknown> {
  const walk = (item: unknown, at: string[]): unknown => {
    if (typeof item === 'string') {
      return item.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_all, name: string) => {
        const found = env[name];
        if (found === undefined) {
          throw new ConfigError(
            `${source}: ${at.join('.')}: environment variable ${name} is not set`,
          );
        }
        return found;
      });
    }
    if (Array.isArray(item)) return item.map((child, i) => walk(child, [...at, String(i)]));
    if (typeof item === 'object' && item !== null) {
      return Object.fromEntries(
        Object.entries(item).map(([key, child]) => [key, walk(child, [...at, key])]),
      );
    }
    return item;
  };
  const tree = walk(value, path);
  if (typeof tree !== 'object' || tree === null || Array.isArray(tree)) {
    throw new ConfigError(`${source}: (top level): expected keys such as cameras: and server:`);
  }
  return tree as Record<string, unknown>;
}

function formatIssues(
  source: string,
  labels: ReadonlyMap<string, string>,
  issues: readonly z.core.$ZodIssue[],
): string {
  const lines = issues.flatMap(withinUnion).map((issue) => {
    // A value the command line or the environment gave is named by its flag or variable; a rule
    // across keys (custom) is named by the key, wherever its value came from.
    const label =
      issue.code === 'custom' ? undefined : labels.get(issue.path.map(String).join('.'));
    // A key that is itself wrong is quoted, so its every character shows.
    const parts = issue.path.map((key, i) =>
      issue.code === 'invalid_key' && i === issue.path.length - 1
        ? JSON.stringify(String(key))
        : pathPart(key),
    );
    const where = label ?? `${source}: ${parts.length > 0 ? parts.join('.') : '(top level)'}`;
    return `${where}: ${describeIssue(issue)}`;
  });
  return lines.join('\n');
}

/**
 * A value that fits one alternative of a union in shape (a user given as a map, not a hash) but
 * not in a field is reported at that field ("auth.users.nanny.ptz: expected boolean"), not as
 * "expected this or that".
 */
function withinUnion(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union') return [issue];
  const fitting = issue.errors.filter((branch) => branch.every((inner) => inner.path.length > 0));
  const [only] = fitting;
  if (fitting.length !== 1 || only === undefined) return [issue];
  return only.map((inner) => ({ ...inner, path: [...issue.path, ...inner.path] }));
}

/** A key as it appears in a message: quoted when it is not a plain word. */
function pathPart(key: PropertyKey): string {
  const text = String(key);
  return /^[A-Za-z0-9_-]+$/.test(text) ? text : JSON.stringify(text);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  if (issue.code === 'invalid_key') return issue.issues[0]?.message ?? issue.message;
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
