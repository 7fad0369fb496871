// `control-seal`: what sealing costs the control channel (docs/security.md), in one process: a requestLock frame
// encoded and decoded as a receiver takes it, against the same sealed (HMAC-SHA-256 trailer) and opened, rounds
// alternating so that both see the same machine. Microseconds a frame, and the ratio.
import { decodeDatagram, encodeFrame, type ControlFrame } from '../src/control/codec';
import { FrameAuthenticator } from '../src/security/frame-auth';
import { KeyRing } from '../src/security/key-ring';
import { formatTable, median, report, round } from './report';

export interface ControlSealOptions {
  quick: boolean;
  log: (line: string) => void;
}

/** At least: sealed frames (sealed and opened) a second on one core. A reconfiguration takes about ten frames, a
 * bulk migration of 100 sessions about a thousand: at this rate their seals cost under 50 ms of CPU. */
export const SEALED_FRAMES_PER_SECOND_TARGET = 20_000;

const A = 0x0a000102;
const B = 0x0a000202;

function frameOf(seq: number): ControlFrame {
  const tuple = { srcIp: A, dstIp: B, srcPort: 61000, dstPort: 61001 };
  return {
    kind: 'message',
    epoch: 7,
    seq,
    message: { type: 'requestLock', id: { leftAnchor: A, nonce: seq }, session: tuple, subsession: tuple, rightAnchor: B, delta: { forward: 1, reverse: 2 } },
  };
}

/** Microseconds a frame over `count` frames, sealed or not. */
function timeFrames(count: number, seal: FrameAuthenticator | undefined, open: FrameAuthenticator | undefined): number {
  let decoded = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const bytes = encodeFrame(frameOf(i));
    const wire = seal ? seal.seal(bytes, B) : bytes;
    const [result] = decodeDatagram(wire, open && { from: A, auth: open });
    if (result?.ok) decoded += 1;
  }
  const micros = Number(process.hrtime.bigint() - started) / 1000;
  if (decoded !== count) throw new Error(`control-seal: ${count - decoded} frames did not decode`);
  return micros / count;
}

export async function runControlSeal(options: ControlSealOptions): Promise<void> {
  const ring = KeyRing.parse({ keys: [{ id: 1, key: 'a5'.repeat(16) }], signingKeyId: 1 });
  const seal = new FrameAuthenticator(ring, { self: A, maxSkewSeconds: 30, acceptUnsealed: false });
  const open = new FrameAuthenticator(ring, { self: B, maxSkewSeconds: 30, acceptUnsealed: false });
  const rounds = options.quick ? 5 : 15;
  const frames = options.quick ? 20_000 : 100_000;
  timeFrames(frames, undefined, undefined); // warm-up: both paths compiled before timing
  timeFrames(frames, seal, open);
  const plain: number[] = [];
  const sealed: number[] = [];
  for (let r = 0; r < rounds; r++) {
    plain.push(timeFrames(frames, undefined, undefined));
    sealed.push(timeFrames(frames, seal, open));
  }
  const figures = {
    plain_us_per_frame: round(median(plain), 2),
    sealed_us_per_frame: round(median(sealed), 2),
    seal_cost_us_per_frame: round(median(sealed) - median(plain), 2),
    ratio: round(median(sealed) / median(plain), 2),
    sealed_frames_per_second: Math.round(1e6 / median(sealed)),
  };
  options.log(`control-seal: ${rounds} rounds of ${frames} frames each way`);
  const table = formatTable(
    ['figure', 'value'],
    [
      ['encode + decode, µs a frame', figures.plain_us_per_frame],
      ['encode + seal + open + decode, µs a frame', figures.sealed_us_per_frame],
      ['the seal\'s own cost, µs a frame (both ends)', figures.seal_cost_us_per_frame],
      ['ratio', `${figures.ratio}x`],
      ['sealed frames a second, one core', `${figures.sealed_frames_per_second.toLocaleString('en-US')} (target >= ${SEALED_FRAMES_PER_SECOND_TARGET.toLocaleString('en-US')})`],
    ],
  );
  const pass = figures.sealed_frames_per_second >= SEALED_FRAMES_PER_SECOND_TARGET;
  report(table, { bench: 'control-seal', ...figures, pass }, { quick: options.quick, rounds, frames, samples: { plain, sealed } });
}
