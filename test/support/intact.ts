import assert from 'node:assert/strict';
import type { VerifiedStreamsResult } from '../../src/testbed/verified-stream-run';

/** Every session of a verified run intact: no failure on either end, no byte lost, at least `minBytesEachWay` each way. */
export function assertIntact(result: VerifiedStreamsResult, minBytesEachWay: number): void {
  for (const s of result.sessions) {
    assert.equal(s.ok, true, JSON.stringify({ client: s.client.failures, server: s.server?.failures }));
    assert.equal(s.bytesLost, 0);
    assert.ok(s.client.sent.bytes >= minBytesEachWay && (s.server?.sent.bytes ?? 0) >= minBytesEachWay, 'traffic both ways');
  }
}
