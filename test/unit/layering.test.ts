// The native layers: core knows neither DPDK nor N-API; dpdk does not know N-API.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../src/version';

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

test('native/dpdk includes no N-API or addon header', () => {
  const foreign = includes('dpdk').filter(({ header }) => /napi|node_api|^addon\//.test(header));
  assert.deepEqual(foreign, []);
});
