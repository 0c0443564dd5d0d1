/**
 * Camera ids as NATS subject tokens and KV keys. camplex ids are 1-64 of `A-Z a-z 0-9 . _ -`,
 * but a subject token or key cannot be empty, hold `.` (the token separator; `.x` and `a..b`
 * are valid ids) or be `*` / `>`; so `.` and `_` are escaped as `_2e` and `_5f` (two hex
 * digits), which is reversible and keeps every other id as it is.
 */

export function encodeName(id: string): string {
  return id.replace(/[._]/g, (c) => `_${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function decodeName(name: string): string {
  return name.replace(/_([0-9a-f]{2})/g, (_, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  );
}
