import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CamplexError, CloseCodes, ErrorCodes } from './errors.js';

// Keeps the registries and docs/PROTOCOL.md in step, as fastify does for its error codes.
const DOC_PATH = new URL('../../docs/PROTOCOL.md', import.meta.url);
const doc = readFileSync(DOC_PATH, 'utf8');

/** The text of the `## <title>` section, up to the next `## ` heading. */
function section(title: string): string {
  const lines = doc.split('\n');
  const start = lines.indexOf(`## ${title}`);
  assert.notEqual(start, -1, `docs/PROTOCOL.md has no "## ${title}" section`);
  const end = lines.findIndex((line, i) => i > start && line.startsWith('## '));
  return lines.slice(start + 1, end === -1 ? undefined : end).join('\n');
}

/** The cells of every table row in `text` (header and separator rows included). */
function tableRows(text: string): string[][] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) =>
      line
        .replace(/^\||\|$/g, '')
        .split('|')
        .map((cell) => cell.trim()),
    );
}

function duplicates(values: readonly (string | number)[]): (string | number)[] {
  return values.filter((value, i) => values.indexOf(value) !== i);
}

describe('error codes in docs/PROTOCOL.md', () => {
  const rows = tableRows(section('Error codes'))
    .map((cells) => ({ cells, code: /^`(CAMPLEX_ERR_[A-Z0-9_]+)`$/.exec(cells[0] ?? '')?.[1] }))
    .filter((row): row is { cells: string[]; code: string } => row.code !== undefined);
  const documented = rows.map((row) => row.code);
  const known: readonly string[] = Object.values(ErrorCodes);

  it('lists every code of ErrorCodes in the error table', () => {
    const missing = known.filter((code) => !documented.includes(code));
    assert.deepEqual(missing, [], 'add these codes to the error table of docs/PROTOCOL.md');
  });

  it('lists each code once', () => {
    assert.deepEqual(duplicates(documented), []);
  });

  it('says for every code what triggers it and where it appears', () => {
    for (const { code, cells } of rows) {
      assert.equal(cells.length, 3, `${code}: expected | Code | Triggered by | Where |`);
      assert.ok(cells[1] && cells[2], `${code}: trigger and place must not be empty`);
    }
  });

  it('mentions no CAMPLEX_ERR_* code that ErrorCodes lacks, anywhere in the doc', () => {
    const mentioned = new Set(doc.match(/CAMPLEX_ERR_[A-Z0-9_]+/g) ?? []);
    const unknown = [...mentioned].filter((code) => !known.includes(code));
    assert.deepEqual(unknown, [], 'these codes are documented but not in ErrorCodes');
  });
});

describe('close codes in docs/PROTOCOL.md', () => {
  const rows = tableRows(section('Close codes'))
    .filter((cells) => /^\d{4}$/.test(cells[0] ?? ''))
    .map((cells) => ({
      code: Number(cells[0]),
      name: /^`([A-Z_]+)`$/.exec(cells[1] ?? '')?.[1],
      sentBy: cells[2] ?? '',
    }));
  const documented = rows.map((row) => row.code);
  const byCode = new Map<number, string>(
    Object.entries(CloseCodes).map(([name, code]) => [code, name]),
  );

  it('lists every code of CloseCodes under its name in the close code table', () => {
    for (const [code, name] of byCode) {
      const row = rows.find((r) => r.code === code);
      assert.ok(row, `close code ${code} (${name}) is missing from the close code table`);
      assert.equal(row.name, name, `close code ${code} should be documented as \`${name}\``);
    }
  });

  it('lists each code once', () => {
    assert.deepEqual(duplicates(documented), []);
  });

  it('documents only codes that CloseCodes defines or that the ws library sends itself', () => {
    for (const row of rows) {
      if (byCode.has(row.code)) continue;
      assert.equal(row.name, undefined, `${row.code} is named but not in CloseCodes`);
      assert.match(row.sentBy, /`ws`/, `${row.code} is neither in CloseCodes nor sent by ws`);
    }
  });

  it('documents the codes the ws library closes with for camplex', () => {
    // 1007 (invalid UTF-8) and 1009 (over maxPayload) come from ws, not from camplex code.
    for (const code of [1007, 1009]) assert.ok(documented.includes(code), `${code} missing`);
  });
});

describe('CamplexError', () => {
  it('carries its stable code next to a human message', () => {
    const error = new CamplexError(ErrorCodes.UNKNOWN_CAMERA, 'unknown camera "porch"');
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'CamplexError');
    assert.equal(error.code, 'CAMPLEX_ERR_UNKNOWN_CAMERA');
    assert.equal(error.message, 'unknown camera "porch"');
  });

  it('uses codes that all start with CAMPLEX_ERR_ and are unique', () => {
    const codes = Object.values(ErrorCodes);
    for (const code of codes) assert.match(code, /^CAMPLEX_ERR_[A-Z0-9_]+$/);
    assert.deepEqual(duplicates(codes), []);
  });
});
