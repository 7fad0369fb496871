// Runs every test tier (unit, native, dpdk, netns, fuzz) in one node:test run so CI reads one summary.
// Tiers that need root or DPDK skip themselves with the reason. Files run one at a time: the dpdk
// and netns tiers share two cores and must not compete for them.
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tiers = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'native', 'dpdk', 'netns', 'fuzz'];
const files = tiers.flatMap((tier) => {
  const dir = join(root, 'dist', 'test', tier);
  if (!existsSync(dir)) throw new Error(`no compiled tests for tier "${tier}" in ${dir}`);
  return readdirSync(dir)
    .filter((name) => name.endsWith('.test.js'))
    .sort()
    .map((name) => join(dir, name));
});

const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  cwd: root,
});
process.exit(result.status ?? 1);
