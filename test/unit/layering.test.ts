// Layering that a test keeps: the native layers (core knows neither DPDK nor N-API; dpdk does not know N-API) and
// the TypeScript folders (no import cycle, src/ never imports bench/ or test/, folders import only downward).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { native } from '../../src/native/binding';
import { REPO_ROOT } from '../../src/version';
import { coreTestAddon } from '../support/core-addon';
import { findCycles, graphOf, importEdges, importSpecifiers, srcFolder } from '../support/import-graph';

function includes(layer: string): { file: string; header: string }[] {
  const dir = join(REPO_ROOT, 'native', layer);
  return readdirSync(dir).flatMap((file) =>
    [...readFileSync(join(dir, file), 'utf8').matchAll(/^\s*#\s*include\s*[<"]([^>"]+)[>"]/gm)].map((m) => ({ file, header: m[1]! })),
  );
}

const DPDK_OR_NODE = /^(rte_|napi|node_api|node\.h|uv\.h|js_native_api)|^(dpdk|addon)\//;

test('native/core includes nothing from DPDK, N-API or the layers above it', () => {
  const foreign = includes('core').filter(({ header }) => DPDK_OR_NODE.test(header));
  assert.deepEqual(foreign, []);
  // Sanity: the scan sees the core's own includes.
  assert.ok(includes('core').some(({ header }) => header.startsWith('core/')));
});

test('native/conntrack includes nothing from DPDK, N-API or the other layers', () => {
  const foreign = includes('conntrack').filter(({ header }) => DPDK_OR_NODE.test(header) || /^(core|dpdk)\//.test(header));
  assert.deepEqual(foreign, []);
  assert.ok(includes('conntrack').some(({ header }) => header.startsWith('libmnl/')));
});

test('native/dpdk includes no N-API or addon header', () => {
  const foreign = includes('dpdk').filter(({ header }) => /napi|node_api|^addon\//.test(header));
  assert.deepEqual(foreign, []);
});

// The TypeScript folders: the real imports of the real tree.
const TS_ROOTS = ['src', 'bench', 'test'];
const edges = importEdges(REPO_ROOT, TS_ROOTS);
const srcEdges = edges.filter((e) => e.from.startsWith('src/'));

/**
 * Which folders of src/ each folder may import (besides itself). Lower layers first; the CLI is the top and nothing
 * imports it. A new dependency between folders is a decision: make it here, in the open.
 */
const SRC_FOLDER_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  version: [],
  log: [],
  net: [],
  protocol: ['net'],
  reconfig: [],
  // type-only: the status names the codecs in src/protocol define
  native: ['protocol'],
  datapath: ['native', 'log'],
  policy: ['log', 'net', 'protocol'],
  // keys, list and frame authentication: prefixes and ports as policies write them, the addon's and the channel's shapes
  security: ['control', 'native', 'net', 'policy'],
  // the channel between agents: the message vocabulary, and the datapath's event and transmit types (type-only)
  control: ['reconfig', 'native'],
  // reconfig: the outcome and rejection reasons that label the reconfiguration series
  metrics: ['control', 'datapath', 'native', 'reconfig', 'version', 'log'],
  // type-only: the control plane reads its part of the agent config
  api: ['agent', 'log', 'native', 'net', 'policy'],
  // control, reconfig: the agent composes the control channel and the reconfiguration machines
  agent: ['api', 'control', 'datapath', 'log', 'metrics', 'native', 'net', 'policy', 'protocol', 'reconfig', 'security', 'state', 'version'],
  testbed: ['api', 'net', 'version'],
  // state transfer: the addon's conntrack functions, addresses, and the tuple type the reconfiguration messages name
  state: ['native', 'net', 'reconfig'],
  cli: ['agent', 'api', 'datapath', 'log', 'metrics', 'native', 'net', 'policy', 'protocol', 'testbed', 'version'],
};

describe('the TypeScript import graph', () => {
  test('the scan sees real imports of the real tree', () => {
    assert.ok(edges.length > 100, `${edges.length} imports`);
    assert.ok(edges.some((e) => e.from === 'src/agent/agent' && e.to === 'src/agent/config'));
    assert.ok(edges.some((e) => e.from === 'src/cli/main' && e.specifier === 'yargs'));
  });

  test('has no import cycle in src/, bench/ or test/ (type-only imports count)', () => {
    assert.deepEqual(findCycles(graphOf(edges)), []);
  });

  test('nothing in src/ imports bench/ or test/', () => {
    const outward = srcEdges.filter((e) => e.to !== undefined && !e.to.startsWith('src/'));
    assert.deepEqual(outward, []);
  });

  test('src/ imports only node: built-ins and the runtime dependencies of package.json', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const packageName = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
    const foreign = srcEdges.filter(
      (e) => e.to === undefined && !e.specifier.startsWith('node:') && !(packageName(e.specifier) in pkg.dependencies),
    );
    assert.deepEqual(foreign, []);
  });

  test('src/ folders import only the folders below them', () => {
    const wrong = srcEdges.flatMap((e) => {
      const from = srcFolder(e.from)!;
      const to = e.to === undefined ? undefined : srcFolder(e.to);
      if (to === undefined || to === from) return [];
      const allowed = SRC_FOLDER_IMPORTS[from];
      if (allowed === undefined) return [`${e.from}: folder src/${from} is not in SRC_FOLDER_IMPORTS`];
      return allowed.includes(to) ? [] : [`${e.from} imports ${e.to} (src/${from} may import: ${allowed.join(', ') || 'nothing'})`];
    });
    assert.deepEqual(wrong, []);
  });
});

describe('findCycles on small graphs', () => {
  const g = (entries: Record<string, string[]>) => new Map(Object.entries(entries));

  test('finds none in a DAG with shared descendants', () => {
    assert.deepEqual(findCycles(g({ a: ['b', 'c'], b: ['d'], c: ['d'], d: [] })), []);
  });

  test('finds a two-module cycle like binding ↔ pipeline-binding', () => {
    assert.deepEqual(findCycles(g({ binding: ['pipeline-binding'], 'pipeline-binding': ['binding'], other: ['binding'] })), [
      ['binding', 'pipeline-binding'],
    ]);
  });

  test('finds a self-import and two separate longer cycles', () => {
    assert.deepEqual(
      findCycles(g({ a: ['b'], b: ['c'], c: ['a', 'x'], x: ['x'], p: ['q'], q: ['r'], r: ['p'], z: ['a'] })),
      [['a', 'b', 'c'], ['p', 'q', 'r'], ['x']],
    );
  });

  test('survives a long chain that closes at the end', () => {
    const chain: Record<string, string[]> = {};
    for (let i = 0; i < 20_000; i++) chain[`m${i}`] = [`m${i + 1}`];
    chain['m20000'] = ['m0'];
    assert.equal(findCycles(g(chain))[0]!.length, 20_001);
  });
});

describe('importSpecifiers', () => {
  test('reads static, type-only, re-export, require and dynamic imports, and skips comments and strings', () => {
    const source = [
      "import a from './a';",
      "import type { B } from '../b';",
      "export * from './c';",
      "import d = require('./d');",
      "const e = import('./e');",
      "// import x from './commented';",
      "const s = \"import y from './in-a-string'\";",
    ].join('\n');
    assert.deepEqual(importSpecifiers(source), ['./a', '../b', './c', './d', './e']);
  });
});

describe('the two addons', () => {
  const TEST_SURFACES = ['core', 'flowTable', 'neighbours', 'protocol', 'pipeline'];

  test("the agent's addon has the Datapath and EAL lifecycle and none of the test-only bindings", () => {
    const agent = native() as unknown as Record<string, unknown>;
    assert.equal(typeof agent.Datapath, 'function');
    assert.equal(typeof agent.ealInit, 'function');
    assert.deepEqual(TEST_SURFACES.filter((name) => name in agent), []);
  });

  test('the test-only addon has every binding that reaches into the core', () => {
    assert.deepEqual(TEST_SURFACES.filter((name) => !(name in coreTestAddon)), []);
    assert.equal('Datapath' in coreTestAddon, false);
  });

  test('nothing in src/ outside src/native imports the typed surfaces of the test-only addon', () => {
    const testSurfaces = new Set(['core-binding', 'neighbour-binding', 'pipeline-binding', 'protocol-binding', 'table-binding'].map((m) => `src/native/${m}`));
    const wrong = srcEdges.filter((e) => srcFolder(e.from) !== 'native' && e.to !== undefined && testSurfaces.has(e.to));
    assert.deepEqual(wrong, []);
  });
});
