// Shared set-up for tests that start the EAL: skip reasons, and EAL options that leave no files.
import type { TestContext } from 'node:test';
import { existsSync } from 'node:fs';
import type { EalOptions } from '../../src/datapath/eal';
import { isRoot } from './netns';

export function dpdkUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'DPDK needs Linux';
  if (!isRoot()) return 'needs root (DPDK EAL)';
  if (!existsSync('/usr/lib/x86_64-linux-gnu/dpdk') && !existsSync('/usr/lib/dpdk')) return 'DPDK is not installed';
  return undefined;
}

export function skipUnlessDpdk(t: TestContext): boolean {
  const reason = dpdkUnavailableReason();
  if (reason === undefined) return false;
  t.skip(reason);
  return true;
}

export function testEalOptions(tag: string): EalOptions {
  return {
    hugepages: false,
    memoryMb: 128,
    filePrefix: `dysco-test-${tag}-${process.pid}`,
    logLevel: 'error',
    extraArgs: [],
  };
}
