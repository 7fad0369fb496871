// dysco.controlRetry: the channel's retransmission knobs, their defaults and limits in the schema, and that
// every accepted value drives a channel.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ConfigError, dyscoConfigSchema, parseAgentConfig } from '../../src/agent/config';
import { ControlChannel } from '../../src/control/channel';
import { retryPolicyProblem, retrySpanMs } from '../../src/control/retry-policy';

const base = { host: { device: 'net_null0' }, wire: { device: 'net_null1' } };
const withRetry = (controlRetry: unknown) => ({ ...base, dysco: { address: '10.0.1.2/24', controlPort: 7070, controlRetry } });

function errorOf(input: unknown): string {
  try {
    parseAgentConfig(input);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
  assert.fail('accepted');
}

describe('dysco.controlRetry', () => {
  it('defaults: 20 ms, doubling, capped at 500 ms, 8 transmissions (given up after 2.12 s)', () => {
    const config = parseAgentConfig({ ...base, dysco: { address: '10.0.1.2/24' } });
    assert.deepEqual(config.dysco!.controlRetry, { initialMs: 20, factor: 2, maxMs: 500, attempts: 8 });
    assert.equal(retrySpanMs(config.dysco!.controlRetry), 2120);
  });

  it('refuses values out of their limits, naming the field', () => {
    assert.match(errorOf(withRetry({ initialMs: 0 })), /dysco\.controlRetry\.initialMs/);
    assert.match(errorOf(withRetry({ factor: 0.5 })), /dysco\.controlRetry\.factor/);
    assert.match(errorOf(withRetry({ attempts: 33 })), /dysco\.controlRetry\.attempts/);
    assert.match(errorOf(withRetry({ attempts: 2.5 })), /dysco\.controlRetry\.attempts/);
    assert.match(errorOf(withRetry({ initialMs: 200, maxMs: 100 })), /dysco\.controlRetry\.maxMs: maxMs must not be below initialMs/);
    assert.match(errorOf(withRetry({ backoff: 2 })), /dysco\.controlRetry\.backoff: unknown key/);
  });

  it('every policy the schema accepts drives a channel', () => {
    fc.assert(
      fc.property(
        fc.record({
          initialMs: fc.integer({ min: 1, max: 10_000 }),
          factor: fc.double({ min: 1, max: 10, noNaN: true }),
          maxMs: fc.integer({ min: 1, max: 60_000 }),
          attempts: fc.integer({ min: 1, max: 32 }),
        }),
        (retry) => {
          const parsed = dyscoConfigSchema.safeParse({ address: '10.0.1.2/24', controlRetry: retry });
          if (!parsed.success) return;
          assert.equal(retryPolicyProblem(parsed.data.controlRetry), undefined);
          assert.doesNotThrow(() => new ControlChannel({ epoch: 1, initialSeq: 0, retry: parsed.data.controlRetry }));
          assert.ok(Number.isFinite(retrySpanMs(parsed.data.controlRetry)));
        },
      ),
    );
  });
});
