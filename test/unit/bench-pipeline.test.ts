// The `pipeline` bench harness: what it reads from the native program and from callgrind, and how it
// judges the targets. The native program itself runs only in `npm run bench -- pipeline`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkTargets, floodBudget, parseAnnotate, parseCallgrindTotal, parseNativeOutput, type PipelineFigures } from '../../bench/pipeline';

test('parseNativeOutput reads RESULT and SAMPLES lines and ignores the rest', () => {
  const out = parseNativeOutput(
    ['RESULT tsc_hz 2096017780', 'SAMPLES pipeline_cycles_10k 106.471 72.826', 'noise line', 'RESULT bad', 'SAMPLES empty'].join('\n'),
  );
  assert.deepEqual(out.results, { tsc_hz: '2096017780' });
  assert.deepEqual(out.samples, { pipeline_cycles_10k: [106.471, 72.826], empty: [] });
});

test('parseCallgrindTotal prefers totals: and falls back to summary:', () => {
  assert.equal(parseCallgrindTotal('events: Ir\nsummary: 12\ntotals: 69167685\n'), 69167685);
  assert.equal(parseCallgrindTotal('events: Ir\nsummary: 14272282\n'), 14272282);
  assert.throws(() => parseCallgrindTotal('events: Ir\n'), /no totals/);
});

test('parseAnnotate returns per-function rows without PROGRAM TOTALS', () => {
  const text = [
    '69,167,685 (100.0%)  PROGRAM TOTALS',
    '9,709,312 (14.04%)  native/core/session_pipeline.cc:dysco::SessionPipeline::Translate(...) const [/x/pipeline_bench_callgrind]',
    '  800,768 ( 1.16%)  native/core/byte_order.h:dysco::SessionPipeline::Translate(...) const',
  ].join('\n');
  assert.deepEqual(parseAnnotate(text), [
    { function: 'native/core/session_pipeline.cc:dysco::SessionPipeline::Translate(...) const', ir: 9709312 },
    { function: 'native/core/byte_order.h:dysco::SessionPipeline::Translate(...) const', ir: 800768 },
  ]);
});

test('checkTargets applies every bound, and an unmeasured instruction count fails', () => {
  const good: PipelineFigures = {
    instructions_per_packet_10k: 100,
    cycles_per_packet_10k: 50,
    baseline_cycles_per_packet: 20,
    cycles_per_packet_1m: 150,
    setups_per_second: 1_000_000,
    setups_per_second_auth: 500_000,
    middlebox_setups_per_second: 800_000,
    middlebox_setups_per_second_auth: 400_000,
    cycles_per_packet_10k_side: 50,
    cycles_per_packet_10k_auth: 52.5,
    cycles_per_packet_10k_flood: 55,
    flood_cycles_per_syn: 1500,
    bytes_per_session: 128,
  };
  assert.ok(checkTargets(good).every((c) => c.ok));
  const failing = (patch: Partial<PipelineFigures>) => checkTargets({ ...good, ...patch }).filter((c) => !c.ok).length;
  assert.equal(failing({ instructions_per_packet_10k: null }), 1);
  assert.equal(failing({ instructions_per_packet_10k: 101 }), 1);
  assert.equal(failing({ cycles_per_packet_10k: 51 }), 1);
  assert.equal(failing({ cycles_per_packet_1m: 151 }), 1);
  assert.equal(failing({ setups_per_second: 999_999 }), 1);
  assert.equal(failing({ bytes_per_session: 129 }), 1);
  assert.equal(failing({ setups_per_second_auth: 499_999 }), 1);
  assert.equal(failing({ middlebox_setups_per_second_auth: 399_999 }), 1);
  assert.equal(failing({ cycles_per_packet_10k_auth: 52.6 }), 1);
  assert.equal(failing({ cycles_per_packet_10k_flood: 55.6 }), 1);
  // 50 cycles unloaded, 50 under the flood, 1500 a SYN at 3 GHz: a tenth of the lcore is 200,000 SYN/s.
  assert.equal(Math.round(floodBudget({ ...good, cycles_per_packet_10k_flood: 50 }, 3e9)), 200_000);
});
