// Runs the libFuzzer targets of test/fuzz/ (built by scripts/build-fuzz.sh) one after another, each for a bounded
// time, from the seed corpus in test/fuzz/corpus/<target>/ plus what earlier local runs found (build/fuzz/corpus/,
// never committed). Prints one line per target and a JSON summary line last; exits 1 when a target crashed (its
// input is kept as build/fuzz/crash-<target>-*), 2 when a target cannot be built or run.
//
//   npm run fuzz -- --minutes N            every target for N minutes
//   node scripts/fuzz.mjs --seconds S [target...]
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
let seconds = 60;
const targets = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--minutes' || arg === '--seconds') {
    const value = Number(args[++i]);
    if (!Number.isFinite(value) || value <= 0) {
      console.error(`fuzz: ${arg} takes a positive number`);
      process.exit(2);
    }
    seconds = arg === '--minutes' ? value * 60 : value;
  } else if (arg.startsWith('fuzz_')) {
    targets.push(arg);
  } else {
    console.error(`fuzz: unknown argument ${arg} (usage: fuzz.mjs [--minutes N | --seconds S] [fuzz_target...])`);
    process.exit(2);
  }
}
if (targets.length === 0) {
  for (const name of readdirSync(join(root, 'test', 'fuzz')).sort()) if (/^fuzz_.*\.cc$/.test(name)) targets.push(name.slice(0, -3));
}

const build = spawnSync('bash', [join(root, 'scripts', 'build-fuzz.sh'), ...targets], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
if (build.status !== 0) process.exit(2);

/** libFuzzer's last status line ("#N DONE cov: C ft: F corp: K/…") and its final stats. */
function summarize(target, output, status) {
  const done = [...output.matchAll(/#(\d+)\s+(?:DONE|pulse|NEW|REDUCE)\s+cov: (\d+) ft: (\d+) corp: (\d+)\//g)].pop();
  const runs = /stat::number_of_executed_units: (\d+)/.exec(output);
  const crashed = /ERROR: (libFuzzer|AddressSanitizer|UndefinedBehaviorSanitizer)|runtime error:|SUMMARY: /.test(output) || (status !== 0 && status !== null);
  return {
    target,
    executions: runs ? Number(runs[1]) : done ? Number(done[1]) : 0,
    coverage: done ? Number(done[2]) : 0,
    features: done ? Number(done[3]) : 0,
    corpus: done ? Number(done[4]) : 0,
    crashed,
  };
}

const results = [];
for (const target of targets) {
  const found = join(root, 'build', 'fuzz', 'corpus', target);
  mkdirSync(found, { recursive: true });
  const run = spawnSync(
    join(root, 'build', 'fuzz', target),
    [
      `-max_total_time=${Math.round(seconds)}`,
      '-print_final_stats=1',
      '-timeout=10',
      '-rss_limit_mb=2048',
      `-artifact_prefix=${join(root, 'build', 'fuzz', `crash-${target}-`)}`,
      found,
      join(root, 'test', 'fuzz', 'corpus', target),
    ],
    { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: (seconds + 120) * 1000 },
  );
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
  const result = summarize(target, output, run.status);
  results.push(result);
  console.log(
    `fuzz: ${target}: ${result.executions.toLocaleString('en-US')} executions in ${Math.round(seconds)} s, coverage ${result.coverage} edges, ${result.features} features, corpus ${result.corpus}${result.crashed ? ' — CRASHED' : ''}`,
  );
  if (result.crashed) console.log(output.split('\n').filter((l) => /ERROR|SUMMARY|runtime error|#\d+ 0x|artifact/.test(l)).slice(0, 40).join('\n'));
}
console.log(JSON.stringify({ fuzz: results, seconds }));
process.exit(results.some((r) => r.crashed) ? 1 : 0);
