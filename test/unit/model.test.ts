// The Promela model of the reconfiguration protocol (model/), checked with spin: every scenario must verify with no
// error, and each deliberately broken variant must be caught. Skips with the reason when spin or gcc is missing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { REPO_ROOT } from '../../src/version';

interface PanResult {
  errors: number;
  statesStored: number;
  depth: number;
  output: string;
}

function missingTool(): string | undefined {
  for (const tool of ['spin', 'gcc']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (scripts/bootstrap.sh installs it)`;
  }
  return undefined;
}

const skip = missingTool();

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0 && cmd !== './pan') throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

/** spin -a, gcc, ./pan for one model file and its defines, in a fresh directory. */
function check(file: string, defines: string[]): PanResult {
  const dir = mkdtempSync(join(tmpdir(), 'dysco-model-'));
  try {
    copyFileSync(join(REPO_ROOT, 'model', file), join(dir, file));
    const flags = defines.map((d) => `-D${d}`);
    run('spin', ['-a', ...flags, file], dir, 60_000);
    run('gcc', ['-O1', '-DSAFETY', '-DCOLLAPSE', '-w', '-o', 'pan', 'pan.c'], dir, 120_000);
    const output = run('./pan', ['-m200000'], dir, 180_000);
    const errors = /errors: (\d+)/.exec(output);
    const states = /(\d+) states, stored/.exec(output);
    const depth = /depth reached (\d+)/.exec(output);
    if (!errors || !states || !depth) throw new Error(`unexpected pan output:\n${output}`);
    // pan stops at the search-depth limit without an error: that would be an incomplete check
    assert.doesNotMatch(output, /max search depth too small/, output);
    return { errors: Number(errors[1]), statesStored: Number(states[1]), depth: Number(depth[1]), output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function verifies(file: string, defines: string[]): void {
  const result = check(file, defines);
  assert.equal(result.errors, 0, result.output);
  assert.ok(result.statesStored > 1000, `only ${result.statesStored} states: the scenario did not run`);
}

function isCaught(file: string, defines: string[], violation: RegExp): void {
  const result = check(file, defines);
  assert.ok(result.errors > 0, `the broken variant ${defines.join(' ')} verified:\n${result.output}`);
  assert.match(result.output, violation);
}

describe('model/twopaths.pml: one reconfiguration, data both ways', { skip, concurrency: 1 }, () => {
  for (const scenario of ['INSERT_TWO', 'DELETE_ONE', 'INSERT_RIGHT', 'REPLACE_ONE', 'DELETE_TWO', 'CONTROL_LOSS', 'NEW_PATH_DOWN', 'SETUP_TIMEOUT', 'STATE_MOVE', 'STATE_FAIL']) {
    test(`${scenario} verifies: no error, no invalid end state`, () => verifies('twopaths.pml', [scenario]));
  }
  test('a new unit sent on the old path after the cutoff is caught (an old-path ACK beyond oldSent)', () =>
    isCaught('twopaths.pml', ['INSERT_TWO', 'BROKEN_CUTOFF'], /assertion violated .*oldSent/));
  // whichever pan meets first: an anchor stuck in TwoPaths forever, or a new-path ACK below the cutoff
  // the left anchor canceling a path whose handshake it answered: the right anchor got the cancel on two paths, or
  // the left one got data on the path it had given up
  test('an abandon after the handshake was answered is caught (the far anchor had switched)', () =>
    isCaught('twopaths.pml', ['SETUP_TIMEOUT', 'BROKEN_ABANDON_ANSWERED'], /assertion violated .*(onNew\[1\]|abandoned)/));
  test('a new path opened before the new instance has the state is caught', () =>
    isCaught('twopaths.pml', ['STATE_MOVE', 'BROKEN_STATE_EARLY'], /assertion violated stateAtNew/));
  test('a moveState refused for coming before its requestLock is caught (the move fails)', () =>
    isCaught('twopaths.pml', ['STATE_MOVE', 'BROKEN_REFUSE_EARLY_MOVE'], /assertion violated .*onNew/));
  test('an oldRcvd frozen at the instant of TwoPaths is caught', () =>
    isCaught('twopaths.pml', ['INSERT_TWO', 'BROKEN_FIXED_OLDRCVD'], /invalid end state|assertion violated .*newSentMax/));
});

describe('model/lock.pml: two overlapping reconfigurations, lost and duplicated messages', { skip, concurrency: 1 }, () => {
  test('CONTEND verifies: exactly one succeeds, locked segments never overlap', () => verifies('lock.pml', ['CONTEND']));
  test('CONTEND_FAIL verifies: the held request goes on when the holder fails', () => verifies('lock.pml', ['CONTEND_FAIL']));
  test('refusing a request for mere contention is caught', () =>
    isCaught('lock.pml', ['CONTEND_FAIL', 'BROKEN_REFUSE_PENDING'], /assertion violated .*outcome/));
});
