/**
 * Process-wide safety net for live testbeds: a best-effort synchronous teardown on process 'exit', and on
 * SIGINT/SIGTERM/SIGHUP when nobody else handles the signal. If the program has its own handler for the signal, ours
 * does nothing (the program is expected to `await testbed.destroy()`; the 'exit' hook still backs it up).
 */

export interface LiveTestbed {
  /** persistent testbeds outlive the process; the hooks leave them alone */
  readonly persistent: boolean;
  destroySync(): void;
}

const live = new Set<LiveTestbed>();
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let installed = false;

function onExit(): void {
  for (const tb of [...live]) {
    live.delete(tb);
    if (!tb.persistent) tb.destroySync();
  }
}

function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return; // the program handles it (and destroys); 'exit' backs up
  uninstall();
  onExit();
  process.kill(process.pid, signal); // default disposition again: die by the signal, as without us
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', onExit);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.removeListener('exit', onExit);
  for (const s of SIGNALS) process.removeListener(s, onSignal);
}

/** Track a testbed; installs the hooks with the first one. Call before creating anything. */
export function registerLive(tb: LiveTestbed): void {
  live.add(tb);
  install();
}

/** Stop tracking a testbed; removes the hooks with the last one. */
export function unregisterLive(tb: LiveTestbed): void {
  live.delete(tb);
  if (live.size === 0) uninstall();
}

/** Number of tracked testbeds (tests). */
export function liveCount(): number {
  return live.size;
}
