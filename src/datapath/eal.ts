// Builds the EAL argument list and initialises the EAL once per process.
import { readFileSync } from 'node:fs';
import { native } from '../native/binding';
import { callNative } from '../native/errors';

export interface EalOptions {
  /** Hugepages are off unless asked for (`--no-huge`), so the agent runs on any Linux box. */
  hugepages: boolean;
  memoryMb: number;
  /** DPDK runtime files live under /var/run/dpdk/<filePrefix>; the default embeds our pid. */
  filePrefix: string;
  logLevel: 'emergency' | 'alert' | 'critical' | 'error' | 'warning' | 'notice' | 'info' | 'debug';
  extraArgs: string[];
}

export const EAL_FILE_PREFIX = 'dysco-';

export function defaultFilePrefix(pid: number = process.pid): string {
  return `${EAL_FILE_PREFIX}${pid}`;
}

const PCI_ADDRESS = /^(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;

export function isPciAddress(device: string): boolean {
  return PCI_ADDRESS.test(device.split(',')[0] ?? '');
}

/** The CPUs this process may run on, as a list EAL understands (e.g. "0-1"). */
export function allowedCpuList(): string {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const match = /^Cpus_allowed_list:\s*(\S+)$/m.exec(status);
    if (match?.[1]) return match[1];
  } catch {
    // not Linux /proc: fall through
  }
  return '0';
}

export function ealArguments(options: EalOptions, devices: string[]): string[] {
  const cpus = allowedCpuList();
  const args = [
    // Main lcore (Node's thread) and the datapath lcore both float over every allowed CPU:
    // several agents share two cores in tests, and Node's thread keeps its affinity.
    '--lcores', `0@(${cpus}),1@(${cpus})`,
    '--main-lcore', '0',
    '--file-prefix', options.filePrefix,
    '--no-shconf',
    '--no-telemetry',
    '--log-level', options.logLevel,
  ];
  if (!options.hugepages) args.push('--no-huge', '-m', String(options.memoryMb));
  else args.push('--socket-mem', String(options.memoryMb));
  const pci = devices.filter(isPciAddress);
  if (pci.length === 0) args.push('--no-pci');
  for (const device of pci) args.push('-a', device);
  return [...args, ...options.extraArgs];
}

let runtimeDir = '';

/** Initialises the EAL; a second call in the same process throws DatapathError EAL_ALREADY_INITIALISED. */
export function initEal(options: EalOptions, devices: string[]): string {
  runtimeDir = callNative(() => native().ealInit(ealArguments(options, devices)));
  return runtimeDir;
}

/** Initialises the EAL unless it already runs in this process; returns its runtime directory. */
export function ensureEal(options: EalOptions, devices: string[]): string {
  return native().ealState() === 'running' ? runtimeDir : initEal(options, devices);
}

export function cleanupEal(): void {
  native().ealCleanup();
}
