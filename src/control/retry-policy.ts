// Retransmission back-off of the control channel: the wait after the n-th transmission of a message is
// initialMs · factor^(n-1), capped at maxMs; after `attempts` transmissions without an ack the message has failed.
// The values come from the agent config (dysco.controlRetry), where their defaults and limits live.

export interface RetryPolicy {
  initialMs: number;
  factor: number;
  maxMs: number;
  /** Transmissions in all, the first included. */
  attempts: number;
}

/** How long to wait for an ack after the `transmission`-th transmission (1 = the first). */
export function retransmitDelayMs(policy: RetryPolicy, transmission: number): number {
  return Math.min(policy.maxMs, policy.initialMs * policy.factor ** (transmission - 1));
}

/** From the first transmission until the message is given up. */
export function retrySpanMs(policy: RetryPolicy): number {
  let total = 0;
  for (let n = 1; n <= policy.attempts; n++) total += retransmitDelayMs(policy, n);
  return total;
}

/** Why a policy cannot drive the channel, or undefined (the schema enforces this; direct callers get the reason). */
export function retryPolicyProblem(policy: RetryPolicy): string | undefined {
  const positive = (n: number) => Number.isFinite(n) && n > 0;
  if (!positive(policy.initialMs) || !positive(policy.maxMs)) return 'initialMs and maxMs must be positive';
  if (policy.maxMs < policy.initialMs) return 'maxMs must not be below initialMs';
  if (!Number.isFinite(policy.factor) || policy.factor < 1) return 'factor must be at least 1';
  if (!Number.isInteger(policy.attempts) || policy.attempts < 1) return 'attempts must be a positive integer';
  return undefined;
}
