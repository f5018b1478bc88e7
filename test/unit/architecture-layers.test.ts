// Issue 12: dependencies in src/ run one way. `npm run check:cycles` (madge) finds file cycles; this
// finds an import from a lower folder into a higher one (types included), which becomes a cycle as
// soon as the higher folder imports back, and names the edge so the contract can be moved down.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

/**
 * The layers, lowest first (STYLE.md, "Dependencies run one way"). A file may import its own
 * layer and the ones below. Everything user-facing (HTTP integrations, observability, dashboard,
 * local clusters, CLI, demo, the public index) is one top layer.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['errors.ts', 'options.ts'],
  ['sql'],
  ['routing'],
  ['engines'],
  ['health'],
  ['consistency'],
  ['cluster'],
];

function layerOf(file: string): number {
  const first = path.relative(SRC, file).split(path.sep)[0]!;
  const i = LAYERS.findIndex((names) => names.includes(first));
  return i === -1 ? LAYERS.length : i;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

// `import … from`, `import type … from`, `export … from`, `import('…')`: every relative specifier.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'(\.{1,2}\/[^']+)'/gm;

test('no file in src/ imports from a higher layer (types included)', () => {
  const upward: string[] = [];
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(SPECIFIER)) {
      const target = path.resolve(path.dirname(file), m[1]!.replace(/\.js$/, '.ts'));
      if (layerOf(target) > layerOf(file)) upward.push(`${path.relative(SRC, file)} -> ${path.relative(SRC, target)}`);
    }
  }
  assert.deepEqual(upward, [], 'move the contract these files share into the lower layer');
});

test('the layer check sees imports', () => {
  // Guards the regular expression: a check that matched nothing would pass on any code.
  const text = readFileSync(path.join(SRC, 'cluster/cluster.ts'), 'utf8');
  assert.ok([...text.matchAll(SPECIFIER)].length > 5);
});
