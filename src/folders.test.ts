/**
 * The folders of src/ are the pipeline's layers: no folder may reach back into one that
 * depends on it. This reads every import and fails on any cycle between folders.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = dirname(fileURLToPath(import.meta.url));

/** Folder -> folders it imports from (the top-level files count as the folder "."). */
function folderImports(): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) addImports(path);
    }
  };
  const addImports = (file: string) => {
    const from = relative(SRC, dirname(file)) || '.';
    for (const match of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      const to = relative(SRC, dirname(resolve(dirname(file), match[1] ?? ''))) || '.';
      if (to === from) continue;
      const targets = edges.get(from) ?? new Set();
      targets.add(to);
      edges.set(from, targets);
    }
  };
  walk(SRC);
  return edges;
}

/** One cycle in `edges` as a path of folders, or undefined. */
function findCycle(edges: Map<string, Set<string>>): string[] | undefined {
  const done = new Set<string>();
  const visit = (node: string, path: string[]): string[] | undefined => {
    if (path.includes(node)) return [...path.slice(path.indexOf(node)), node];
    if (done.has(node)) return undefined;
    for (const next of edges.get(node) ?? []) {
      const cycle = visit(next, [...path, node]);
      if (cycle) return cycle;
    }
    done.add(node);
    return undefined;
  };
  for (const node of edges.keys()) {
    const cycle = visit(node, []);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('folders', () => {
  it('import one another without cycles', () => {
    assert.equal(findCycle(folderImports())?.join(' -> '), undefined);
  });

  it('keep the camera free of the wire and of its viewers', () => {
    const camera = folderImports().get('camera') ?? new Set();
    for (const layer of ['protocol', 'hub', 'socket', 'http']) assert.ok(!camera.has(layer), layer);
  });
});
