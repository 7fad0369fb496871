// The fuzz tier: every libFuzzer target of test/fuzz/ (the address list and its authentication block, the TCP option
// walker and the tag option, the whole pipeline with sessions in every state) built with ASan and UBSan and run for
// a bounded time from the seed corpus (scripts/fuzz.mjs); a crash or a sanitizer report fails the build. Then the
// TypeScript control-frame codec, which no libFuzzer reaches, under seeded mutation of sealed datagrams.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { decodeDatagram, encodeFrame, type ControlFrame } from '../../src/control/codec';
import type { ReconfigMessage } from '../../src/reconfig/messages';
import { FrameAuthenticator } from '../../src/security/frame-auth';
import { KeyRing } from '../../src/security/key-ring';
import { Prng } from '../support/prng';

const ROOT = resolve(__dirname, '..', '..', '..');
/** Seconds per libFuzzer target in the test command (three targets: about two minutes in all). */
const SECONDS_PER_TARGET = 35;
const CONTROL_FUZZ_MS = 15_000;
const hasClang = spawnSync('clang++', ['--version']).status === 0;

describe('libFuzzer targets (ASan + UBSan), bounded', { skip: hasClang ? false : 'clang++ is not installed (scripts/bootstrap.sh installs clang)' }, () => {
  test(`each runs ${SECONDS_PER_TARGET} s from its seed corpus without a crash or a sanitizer report`, { timeout: 900_000 }, () => {
    const run = spawnSync(process.execPath, [resolve(ROOT, 'scripts', 'fuzz.mjs'), '--seconds', String(SECONDS_PER_TARGET)], {
      cwd: ROOT,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const lines = (run.stdout ?? '').trim().split('\n');
    for (const line of lines.slice(0, -1)) console.log(line);
    assert.equal(run.status, 0, `scripts/fuzz.mjs exited ${run.status}:\n${run.stdout}\n${(run.stderr ?? '').slice(-4000)}`);
    const summary = JSON.parse(lines[lines.length - 1]!) as { fuzz: { target: string; executions: number; coverage: number; crashed: boolean }[] };
    assert.ok(summary.fuzz.length >= 3, 'every target ran');
    for (const target of summary.fuzz) {
      assert.equal(target.crashed, false, target.target);
      assert.ok(target.executions > 100 && target.coverage > 10, `${target.target}: ${JSON.stringify(target)}`);
    }
  });
});

describe('the control-frame codec under mutation of sealed datagrams', () => {
  const A = 0x0a000102;
  const B = 0x0a000202;
  const key = '5a'.repeat(16);
  const seal = new FrameAuthenticator(KeyRing.parse({ keys: [{ id: 1, key }], signingKeyId: 1 }), { self: A, maxSkewSeconds: 30, acceptUnsealed: false, clock: () => 1_800_000_000 });
  const open = new FrameAuthenticator(KeyRing.parse({ keys: [{ id: 1, key }], signingKeyId: 1 }), { self: B, maxSkewSeconds: 30, acceptUnsealed: false, clock: () => 1_800_000_000 });
  const tuple = { srcIp: A, dstIp: B, srcPort: 61000, dstPort: 61001 };
  const id = { leftAnchor: A, nonce: 5 };
  const messages: ReconfigMessage[] = [
    { type: 'requestLock', id, session: tuple, subsession: tuple, rightAnchor: B, delta: { forward: 1, reverse: 2 } },
    { type: 'nackLock', id, session: tuple, subsession: tuple, reason: 'locked' },
    { type: 'teardown', id, session: tuple, subsession: tuple },
    { type: 'migrateRequest', session: tuple, subsession: tuple, rightAnchor: B, replacement: 0x0a000302, transferState: true },
    { type: 'stateChunk', id, session: tuple, tuple, part: 0, parts: 2, bytes: Buffer.alloc(300, 7) },
    { type: 'stateResult', id, session: tuple, result: 'ok' },
    { type: 'expectState', id, session: tuple, from: 0x0a000302 },
  ];
  const frames: ControlFrame[] = [...messages.map((message, seq) => ({ kind: 'message' as const, epoch: 9, seq, message })), { kind: 'ack', epoch: 9, seq: 3 }];
  const sealed = frames.map((f) => seal.seal(encodeFrame(f), B));
  const genuine = new Set(frames.map((f) => encodeFrame(f).toString('hex')));

  test(`${CONTROL_FUZZ_MS / 1000} s of mutations: nothing throws, and whatever opens is one of the frames that were sealed`, () => {
    const prng = new Prng(0xc0ffee);
    const deadline = Date.now() + CONTROL_FUZZ_MS;
    let datagrams = 0;
    let opened = 0;
    while (Date.now() < deadline) {
      for (let i = 0; i < 256; i++, datagrams++) {
        const parts = Array.from({ length: prng.int(1, 3) }, () => sealed[prng.int(0, sealed.length - 1)]!);
        const bytes = Buffer.concat(parts);
        const edits = prng.int(0, 4);
        for (let e = 0; e < edits; e++) bytes[prng.int(0, bytes.length - 1)] = prng.int(0, 255);
        const cut = prng.chance(0.2) ? bytes.subarray(0, prng.int(0, bytes.length)) : bytes;
        const results = decodeDatagram(cut, { from: A, auth: open });
        for (const r of results) {
          if (!r.ok) continue;
          opened += 1;
          assert.ok(genuine.has(encodeFrame(r.frame).toString('hex')), 'a frame that opens is one that was sealed');
        }
      }
    }
    assert.ok(datagrams > 10_000 && opened > 0, `${datagrams} datagrams, ${opened} frames opened`);
  });
});
