/**
 * Keeps secrets out of every text that leaves the process: log lines, viewer reasons, the API,
 * ffmpeg's stderr tail. It redacts what it knows (each configured camera password and API
 * token, as written, URL-encoded, URL-decoded and JSON-escaped) wherever it appears, camera user
 * names where they appear as URL user info, and any other URL's user info by shape. Matching the
 * URL's shape alone fails for passwords with a space or a `/` in them.
 */

const REDACTED = '***';
/** `scheme://userinfo@`; up to the LAST '@' of the authority, as ffmpeg reads it. */
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)([^/\s"]*)@/gi;
/** A JSON string literal in a log line. */
const JSON_STRING = /"(?:[^"\\]|\\.)*"/g;
const REDACTED_LITERAL = JSON.stringify(REDACTED);

export class Redactor {
  /** Every form of every secret, longest first (a secret may contain a shorter one). */
  private secrets: string[] = [];
  /** Every form of every camera user name, matched only as `://<user>:` or `://<user>@`. */
  private users: string[] = [];
  private userPattern: RegExp | undefined;

  /** Adds a password or token: from now on it is replaced in whatever is redacted. */
  addSecret(secret: string): void {
    this.secrets = unique([...this.secrets, ...forms(secret)]).sort((a, b) => b.length - a.length);
  }

  /** Adds a camera's user name, replaced where it is a URL's user info. */
  addUser(user: string): void {
    this.users = unique([...this.users, ...forms(user)]);
    const names = this.users.map(escapeRegExp).join('|');
    this.userPattern = new RegExp(`(:\\/\\/)(?:${names})(?=[:@])`, 'g');
  }

  /**
   * Adds the credentials in `url`'s user info. A password there may itself hold `/` or `@`,
   * which ffmpeg and people read differently, so both readings become secrets.
   */
  addUrl(url: string): void {
    const match = /^[a-z][a-z0-9+.-]*:\/\/([^/:@\s]*):(.*)@[^@]*$/is.exec(url);
    if (match) {
      this.addUser(match[1] ?? '');
      this.addSecret(match[2] ?? '');
    }
    // ffmpeg's reading: the authority ends at the first '/', '?' or '#'.
    const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/is.exec(url)?.[1] ?? '';
    const at = authority.lastIndexOf('@');
    if (at === -1) return;
    const [user = '', ...password] = authority.slice(0, at).split(':');
    if (user !== '') this.addUser(user);
    if (password.length > 0) this.addSecret(password.join(':'));
  }

  /** `text` with every known secret and every URL's user info replaced by `***`. */
  redact(text: string): string {
    // User names first: a secret that happens to sit inside one must not hide it from its pattern.
    let out = this.userPattern ? text.replace(this.userPattern, `$1${REDACTED}`) : text;
    for (const secret of this.secrets) out = out.replaceAll(secret, REDACTED);
    return out.replace(USERINFO, (_all, scheme: string) => `${scheme}${REDACTED}@`);
  }

  /**
   * A JSON log line with secrets replaced inside its string values only (a secret like `30`
   * must not turn `"level":30` into broken JSON). Each literal is decoded, redacted and encoded
   * again, so a secret holding a quote or a backslash never eats the literal's own quotes or
   * escapes. Lines with nothing to hide pass unchanged.
   */
  redactJsonLine(line: string): string {
    if (!this.mayHoldSecret(line)) return line;
    return line.replace(JSON_STRING, (literal: string, at: number) => {
      // Keys are names camplex's code chose: a short secret must not rename `level` or `msg`.
      if (line[at + literal.length] === ':') return literal;
      const value = decodeLiteral(literal);
      if (value === undefined) return REDACTED_LITERAL; // not JSON: nothing of it may pass
      const redacted = this.redact(value);
      return redacted === value ? literal : JSON.stringify(redacted);
    });
  }

  /** Secrets shorter than this will mangle logs where they appear by chance. */
  shortestSecret(): number {
    return Math.min(...this.secrets.map((secret) => secret.length));
  }

  private mayHoldSecret(line: string): boolean {
    if (line.includes('://') && line.includes('@')) return true;
    return this.secrets.some((secret) => line.includes(secret));
  }
}

/** The text a JSON string literal stands for, or undefined when it is no valid literal. */
function decodeLiteral(literal: string): string | undefined {
  try {
    const value: unknown = JSON.parse(literal);
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The ways `secret` can be written out: as is, URL-encoded or -decoded, JSON-escaped. */
function forms(secret: string): string[] {
  if (secret === '') return [];
  const written = [secret, encodeURIComponent(secret)];
  try {
    written.push(decodeURIComponent(secret));
  } catch {
    // not percent-encoded
  }
  const escaped = written.map((form) => JSON.stringify(form).slice(1, -1));
  return unique([...written, ...escaped].filter((form) => form !== ''));
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
