// The migration-goodput benchmark's arithmetic: iperf3's interval lines, and the figures from per-second samples.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bucketMedian, migrationFigures, parseIperfInterval, roundTripBuckets, type SecondSample } from '../../bench/migration-goodput';

describe('migration-goodput', () => {
  test('reads a bundle\'s total from the [SUM] line, or the one stream\'s line, in any unit', () => {
    assert.deepEqual(parseIperfInterval('[SUM]   3.00-4.00   sec  3.71 MBytes  31.1 Mbits/sec', 100), { start: 3, mbit: 31.1 });
    assert.equal(parseIperfInterval('[  5]   3.00-4.00   sec   380 KBytes  3.11 Mbits/sec', 100), undefined, 'a stream of a bundle');
    assert.deepEqual(parseIperfInterval('[  5]   0.00-1.00   sec   117 MBytes   981 Mbits/sec', 1), { start: 0, mbit: 981 });
    assert.deepEqual(parseIperfInterval('[SUM]  10.00-11.00  sec  1.10 GBytes  9.40 Gbits/sec', 4), { start: 10, mbit: 9400 });
    assert.equal(parseIperfInterval('[SUM]   0.00-24.00  sec  90.1 MBytes  31.5 Mbits/sec                  receiver', 10), undefined, 'the closing total');
    assert.equal(parseIperfInterval('Server listening on 7401', 10), undefined);
  });

  test('before, after, the lowest second of the move, and retransmissions against the window before', () => {
    const samples: SecondSample[] = Array.from({ length: 30 }, (_, second) => ({
      second,
      mbit: [second < 15 ? 30 : second === 15 ? 28 : 90, 30, 30],
      retransmissions: second === 16 ? 2 : second === 5 ? 1 : 0,
      lossProbes: second === 16 ? 1 : 0,
    }));
    const f = migrationFigures(samples, { startS: 15.2, endS: 15.6 }, 5);
    assert.equal(f.beforeMbit, 30);
    assert.equal(f.afterMbit, 90);
    assert.equal(f.ratio, 3);
    // Seconds 15 and 16 overlap the move: 28/30 and 90/30.
    assert.equal(f.minSecondRatio, 28 / 30);
    assert.deepEqual([f.retransBefore, f.retransAfter, f.extraRetransmissions, f.extraLossProbes], [0, 2, 2, 1]);
    assert.equal(migrationFigures(samples.map((s) => ({ ...s, retransmissions: 0 })), { startS: 15.2, endS: 15.6 }, 5).extraRetransmissions, 0);
  });

  test('the control round trip: cumulative buckets read from the exposition, the median\'s bucket bound', () => {
    const text = ['dysco_control_round_trip_seconds_bucket{le="0.001"} 2', 'dysco_control_round_trip_seconds_bucket{le="0.005"} 7', 'dysco_control_round_trip_seconds_bucket{le="+Inf"} 10', 'dysco_control_round_trip_seconds_count 10'].join('\n');
    const buckets = roundTripBuckets(text);
    assert.deepEqual([...buckets.entries()], [[0.001, 2], [0.005, 7], [Infinity, 10]]);
    assert.deepEqual(bucketMedian(buckets), { p50Ms: 5, count: 10 });
    assert.deepEqual(bucketMedian(new Map()), { p50Ms: null, count: 0 });
  });
});
