// Benchmark output conventions: a readable table, bench/results/<name>.json, and the last line of
// stdout one JSON object {"bench": name, ...figures, "pass": boolean}.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../src/version';

export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');

export function formatTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export interface BenchSummary {
  bench: string;
  pass: boolean;
  [figure: string]: unknown;
}

/** Prints the table, writes the full result file and ends stdout with the summary JSON line. */
export function report(table: string, summary: BenchSummary, details: Record<string, unknown>): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${summary.bench}.json`);
  writeFileSync(file, `${JSON.stringify({ ...summary, ...details, machine: machine() }, null, 2)}\n`);
  process.stdout.write(`${table}\n\nresults: ${file}\n${JSON.stringify(summary)}\n`);
}

function machine(): Record<string, unknown> {
  const os = require('node:os') as typeof import('node:os');
  return { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: round(os.totalmem() / 2 ** 30, 1), kernel: os.release(), node: process.version, date: new Date().toISOString() };
}
