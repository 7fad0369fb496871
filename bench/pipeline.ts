// `pipeline`: the core SessionPipeline on synthetic packets in one process, no I/O
// (bench/native/pipeline_bench.cc). Steady-state translation at a middlebox agent with 10K and 1M
// sessions against a minimal forwarder (parse + MAC swap) timed in the same run, instructions per packet
// under callgrind, SYN setups per second at an initiator and at a middlebox, each without and with signed
// address lists (side by side), the steady state again with authentication installed, and table bytes per
// session.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../src/version';
import { formatTable, report, round } from './report';

const run = promisify(execFile);

export interface PipelineOptions {
  quick: boolean;
  log: (line: string) => void;
}

export const PIPELINE_TARGETS = {
  instructionsPerPacket10k: 100, // at most
  ratioToBaseline10k: 2.5, // at most: pipeline cycles / forwarder cycles at 10K sessions
  cyclesPerPacket1m: 150, // at most
  setupsPerSecond: 1_000_000, // at least
  authSetupRatio: 0.5, // at least: setups/s with signed lists / without, initiator and middlebox alike
  authDataRatio: 1.05, // at most: data cycles/packet with authentication installed / without (noise only)
  floodDataRate: 0.9, // at least: established packets/cycle during a SYN flood / unloaded (the flood's own SYNs apart)
  bytesPerSession: 128, // at most
} as const;

const NATIVE_DIR = join(REPO_ROOT, 'bench', 'native');
const BUILD_DIR = join(NATIVE_DIR, 'build');
const BINARY = join(BUILD_DIR, 'pipeline_bench');
const CALLGRIND_BINARY = join(BUILD_DIR, 'pipeline_bench_callgrind');
const CALLGRIND_PACKETS = { quick: 100_000, full: 200_000 };
const MAX_BUFFER = 16 * 1024 * 1024;

/** What the C++ program printed: `RESULT <name> <value>` and `SAMPLES <name> <v>...` lines. */
export interface NativeOutput {
  results: Record<string, string>;
  samples: Record<string, number[]>;
}

export function parseNativeOutput(stdout: string): NativeOutput {
  const out: NativeOutput = { results: {}, samples: {} };
  for (const line of stdout.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts[0] === 'RESULT' && parts.length === 3) out.results[parts[1]!] = parts[2]!;
    if (parts[0] === 'SAMPLES' && parts.length >= 2) out.samples[parts[1]!] = parts.slice(2).map(Number);
  }
  return out;
}

function numberOf(output: NativeOutput, name: string): number {
  const text = output.results[name];
  const value = text === undefined ? Number.NaN : Number(text);
  if (!Number.isFinite(value)) throw new Error(`pipeline_bench printed no number for ${name}`);
  return value;
}

/** The event total of a callgrind out file (its `totals:` line, else `summary:`). */
export function parseCallgrindTotal(text: string): number {
  const match = /^totals:\s+(\d+)/m.exec(text) ?? /^summary:\s+(\d+)/m.exec(text);
  if (!match) throw new Error('callgrind output has no totals: or summary: line');
  return Number(match[1]);
}

export interface FunctionCost {
  function: string;
  ir: number;
}

/** The per-function rows of `callgrind_annotate` (self cost, largest first), without PROGRAM TOTALS. */
export function parseAnnotate(text: string): FunctionCost[] {
  const rows: FunctionCost[] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.+)$/.exec(line);
    if (!match || match[2]!.includes('PROGRAM TOTALS')) continue;
    const name = match[2]!.replace(/\s+\[[^\]]*\]$/, '').replace(`${REPO_ROOT}/`, '');
    rows.push({ function: name, ir: Number(match[1]!.replace(/,/g, '')) });
  }
  return rows;
}

export interface PipelineFigures {
  instructions_per_packet_10k: number | null;
  cycles_per_packet_10k: number;
  baseline_cycles_per_packet: number;
  cycles_per_packet_1m: number;
  setups_per_second: number;
  setups_per_second_auth: number;
  middlebox_setups_per_second: number;
  middlebox_setups_per_second_auth: number;
  /** The same 10K sessions measured round by round beside the two below (this machine's clock moves). */
  cycles_per_packet_10k_side: number;
  cycles_per_packet_10k_auth: number;
  cycles_per_packet_10k_flood: number;
  flood_cycles_per_syn: number;
  bytes_per_session: number;
}

export interface TargetCheck {
  figure: string;
  measured: string;
  target: string;
  ok: boolean;
}

const formatRate = (perSecond: number) => Math.round(perSecond).toLocaleString('en-US');

/**
 * The largest SYN flood (per second) one lcore busy with data at full rate can take while its established rate stays
 * at 0.9x unloaded: the flood's cycles come out of the data's, so (1 - F * c_syn / hz) * c_data / c_data_flood >= 0.9.
 */
export function floodBudget(f: PipelineFigures, tscHz: number): number {
  return Math.max(0, (tscHz / f.flood_cycles_per_syn) * (1 - (0.9 * f.cycles_per_packet_10k_flood) / f.cycles_per_packet_10k_side));
}

export function checkTargets(f: PipelineFigures): TargetCheck[] {
  const ratio = f.cycles_per_packet_10k / f.baseline_cycles_per_packet;
  const t = PIPELINE_TARGETS;
  return [
    {
      figure: 'instructions/packet, 10K sessions (callgrind)',
      measured: f.instructions_per_packet_10k === null ? 'not measured' : f.instructions_per_packet_10k.toFixed(1),
      target: `<= ${t.instructionsPerPacket10k}`,
      ok: f.instructions_per_packet_10k !== null && f.instructions_per_packet_10k <= t.instructionsPerPacket10k,
    },
    {
      figure: 'cycles/packet vs forwarder, 10K sessions',
      measured: `${f.cycles_per_packet_10k.toFixed(1)} / ${f.baseline_cycles_per_packet.toFixed(1)} = ${ratio.toFixed(2)}x`,
      target: `<= ${t.ratioToBaseline10k}x`,
      ok: ratio <= t.ratioToBaseline10k,
    },
    {
      figure: 'cycles/packet, 1M sessions',
      measured: f.cycles_per_packet_1m.toFixed(1),
      target: `<= ${t.cyclesPerPacket1m}`,
      ok: f.cycles_per_packet_1m <= t.cyclesPerPacket1m,
    },
    {
      figure: 'SYN setups/s, one core (initiator)',
      measured: formatRate(f.setups_per_second),
      target: `>= ${t.setupsPerSecond.toLocaleString('en-US')}`,
      ok: f.setups_per_second >= t.setupsPerSecond,
    },
    {
      figure: 'SYN setups/s with signed lists / without (initiator)',
      measured: `${formatRate(f.setups_per_second_auth)} / ${formatRate(f.setups_per_second)} = ${(f.setups_per_second_auth / f.setups_per_second).toFixed(2)}x`,
      target: `>= ${t.authSetupRatio}x`,
      ok: f.setups_per_second_auth / f.setups_per_second >= t.authSetupRatio,
    },
    {
      figure: 'SYN setups/s with signed lists / without (middlebox: verify + sign)',
      measured: `${formatRate(f.middlebox_setups_per_second_auth)} / ${formatRate(f.middlebox_setups_per_second)} = ${(f.middlebox_setups_per_second_auth / f.middlebox_setups_per_second).toFixed(2)}x`,
      target: `>= ${t.authSetupRatio}x`,
      ok: f.middlebox_setups_per_second_auth / f.middlebox_setups_per_second >= t.authSetupRatio,
    },
    {
      figure: 'data cycles/packet with authentication / without, 10K',
      measured: `${f.cycles_per_packet_10k_auth.toFixed(1)} / ${f.cycles_per_packet_10k_side.toFixed(1)} = ${(f.cycles_per_packet_10k_auth / f.cycles_per_packet_10k_side).toFixed(2)}x`,
      target: `<= ${t.authDataRatio}x`,
      ok: f.cycles_per_packet_10k_auth / f.cycles_per_packet_10k_side <= t.authDataRatio,
    },
    {
      figure: 'established rate during a SYN flood / unloaded, 10K (1 signed SYN per 16 packets)',
      measured: `${f.cycles_per_packet_10k_side.toFixed(1)} / ${f.cycles_per_packet_10k_flood.toFixed(1)} = ${(f.cycles_per_packet_10k_side / f.cycles_per_packet_10k_flood).toFixed(2)}x`,
      target: `>= ${t.floodDataRate}x`,
      ok: f.cycles_per_packet_10k_side / f.cycles_per_packet_10k_flood >= t.floodDataRate,
    },
    {
      figure: 'table bytes/session (1M live, sized for 1M)',
      measured: f.bytes_per_session.toFixed(1),
      target: `<= ${t.bytesPerSession}`,
      ok: f.bytes_per_session <= t.bytesPerSession,
    },
  ];
}

// Rebuilds the two binaries when any source is newer than either (or one is missing).
async function build(log: (line: string) => void): Promise<void> {
  const sources = [join(NATIVE_DIR, 'pipeline_bench.cc'), join(NATIVE_DIR, 'build.sh')];
  const core = join(REPO_ROOT, 'native', 'core');
  for (const name of readdirSync(core)) if (/\.(cc|h|def)$/.test(name)) sources.push(join(core, name));
  const newest = Math.max(...sources.map((path) => statSync(path).mtimeMs));
  const stale = [BINARY, CALLGRIND_BINARY].some((path) => !existsSync(path) || statSync(path).mtimeMs < newest);
  if (!stale) return;
  log('building bench/native/build/pipeline_bench{,_callgrind}');
  await run('bash', [join(NATIVE_DIR, 'build.sh'), 'pipeline_bench', 'pipeline_bench_callgrind'], { maxBuffer: MAX_BUFFER });
}

async function haveValgrind(): Promise<boolean> {
  try {
    await run('valgrind', ['--version']);
    return true;
  } catch {
    return false;
  }
}

interface CallgrindResult {
  packets: number;
  instructions: number;
  perPacket: number;
  topFunctions?: { function: string; ir_per_packet: number }[];
}

async function callgrind(mode: 'pipeline' | 'forwarder', packets: number, annotate: boolean): Promise<CallgrindResult> {
  const dir = mkdtempSync(join(tmpdir(), 'dysco-callgrind-'));
  try {
    const outFile = join(dir, 'callgrind.out');
    const fn = mode === 'pipeline' ? 'DyscoBenchTimedPipeline' : 'DyscoBenchTimedForwarder';
    const { stdout } = await run(
      'valgrind',
      ['--tool=callgrind', `--callgrind-out-file=${outFile}`, `--toggle-collect=${fn}`, CALLGRIND_BINARY, '--callgrind', mode, '--packets', String(packets)],
      { maxBuffer: MAX_BUFFER },
    );
    const counted = numberOf(parseNativeOutput(stdout), 'callgrind_packets');
    const instructions = parseCallgrindTotal(readFileSync(outFile, 'utf8'));
    const result: CallgrindResult = { packets: counted, instructions, perPacket: instructions / counted };
    if (annotate) {
      const { stdout: text } = await run('callgrind_annotate', ['--threshold=99', outFile], { maxBuffer: MAX_BUFFER });
      result.topFunctions = parseAnnotate(text)
        .slice(0, 15)
        .map((row) => ({ function: row.function, ir_per_packet: round(row.ir / counted, 2) }));
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runPipeline(options: PipelineOptions): Promise<void> {
  await build(options.log);

  options.log(`timing the pipeline and the forwarder${options.quick ? ' (quick)' : ''}`);
  const args = options.quick ? ['--quick'] : [];
  const { stdout, stderr } = await run(BINARY, args, { maxBuffer: MAX_BUFFER });
  for (const line of stderr.split('\n')) if (line.trim()) options.log(line);
  const native = parseNativeOutput(stdout);

  let pipelineCg: CallgrindResult | null = null;
  let forwarderCg: CallgrindResult | null = null;
  if (await haveValgrind()) {
    const packets = options.quick ? CALLGRIND_PACKETS.quick : CALLGRIND_PACKETS.full;
    options.log(`counting instructions under callgrind (${packets} packets at 10K sessions)`);
    pipelineCg = await callgrind('pipeline', packets, true);
    forwarderCg = await callgrind('forwarder', packets, false);
  } else {
    options.log('valgrind not found: instructions per packet not measured (run scripts/bootstrap.sh)');
  }

  const figures: PipelineFigures = {
    instructions_per_packet_10k: pipelineCg ? round(pipelineCg.perPacket, 1) : null,
    cycles_per_packet_10k: numberOf(native, 'cycles_per_packet_10k'),
    baseline_cycles_per_packet: numberOf(native, 'forwarder_cycles_per_packet_10k'),
    cycles_per_packet_1m: numberOf(native, 'cycles_per_packet_1m'),
    setups_per_second: numberOf(native, 'setups_per_second'),
    setups_per_second_auth: numberOf(native, 'setups_per_second_auth'),
    middlebox_setups_per_second: numberOf(native, 'middlebox_setups_per_second'),
    middlebox_setups_per_second_auth: numberOf(native, 'middlebox_setups_per_second_auth'),
    cycles_per_packet_10k_side: numberOf(native, 'cycles_per_packet_10k_side'),
    cycles_per_packet_10k_auth: numberOf(native, 'cycles_per_packet_10k_auth'),
    cycles_per_packet_10k_flood: numberOf(native, 'cycles_per_packet_10k_flood'),
    flood_cycles_per_syn: numberOf(native, 'flood_cycles_per_syn'),
    bytes_per_session: numberOf(native, 'bytes_per_live_session_1m'),
  };
  const checks = checkTargets(figures);
  const table = [
    formatTable(
      ['figure', 'measured', 'target', 'ok'],
      checks.map((c) => [c.figure, c.measured, c.target, c.ok ? 'yes' : 'NO']),
    ),
    '',
    formatTable(
      ['context', 'value'],
      [
        ['forwarder instructions/packet (callgrind)', forwarderCg ? forwarderCg.perPacket.toFixed(1) : 'not measured'],
        ['forwarder cycles/packet, 1M sessions', numberOf(native, 'forwarder_cycles_per_packet_1m').toFixed(1)],
        ['cycles/packet samples, 10K', (native.samples.pipeline_cycles_10k ?? []).map((v) => v.toFixed(0)).join(' ')],
        ['cycles/packet samples, 1M', (native.samples.pipeline_cycles_1m ?? []).map((v) => v.toFixed(0)).join(' ')],
        ['table bytes / capacity at 10K (max_sessions 10000)', numberOf(native, 'bytes_per_capacity_10k').toFixed(1)],
        ['flood: cycles per signed SYN (verify, set up, reclaim the oldest half-open)', figures.flood_cycles_per_syn.toFixed(0)],
        ['flood: SYN/s one lcore absorbs with its data path saturated and kept at 0.9x', Math.round(floodBudget(figures, numberOf(native, 'tsc_hz'))).toLocaleString('en-US')],
        ['table MiB at 1M', (numberOf(native, 'memory_bytes_1m') / 2 ** 20).toFixed(1)],
        ['TSC GHz (all cycles above are TSC cycles)', (numberOf(native, 'tsc_hz') / 1e9).toFixed(3)],
        ['core cycles per TSC cycle (dependent adds)', numberOf(native, 'core_cycles_per_tsc_cycle').toFixed(2)],
      ],
    ),
  ].join('\n');

  const summary = {
    bench: 'pipeline',
    ...figures,
    ratio_10k: round(figures.cycles_per_packet_10k / figures.baseline_cycles_per_packet, 2),
    setup_auth_ratio: round(figures.setups_per_second_auth / figures.setups_per_second, 2),
    flood_rate_ratio: round(figures.cycles_per_packet_10k_side / figures.cycles_per_packet_10k_flood, 2),
    flood_syns_per_second_at_0_9: Math.round(floodBudget(figures, numberOf(native, 'tsc_hz'))),
    middlebox_setup_auth_ratio: round(figures.middlebox_setups_per_second_auth / figures.middlebox_setups_per_second, 2),
    pass: checks.every((c) => c.ok),
  };
  report(table, summary, {
    quick: options.quick,
    targets: PIPELINE_TARGETS,
    checks,
    native: { results: native.results, samples: native.samples },
    callgrind: { pipeline: pipelineCg, forwarder: forwarderCg },
  });
}
