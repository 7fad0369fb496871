// Authenticated control frames (docs/security.md): a sealed frame has flag bit 0 set and ends in a 22-byte trailer,
// key id u16, the signer's time u32 (Unix seconds), and the first 16 bytes of HMAC-SHA-256 over the sender's and the
// receiver's IPv4 addresses and every byte of the frame before the tag. The key is the ring's key of that id,
// separated from its use for address lists (HMAC-SHA-256 of it with a label). Replays inside the freshness window
// are the channel's per-peer duplicate window's to refuse; older ones are stale here.
import { createHmac } from 'node:crypto';
import { CONTROL_AUTH_TRAILER_BYTES, CONTROL_FLAG_AUTHENTICATED, type FrameAuth, type FrameAuthOutcome } from '../control/codec';
import type { KeyRing } from './key-ring';

const TAG_BYTES = 16;
const CONTROL_KEY_LABEL = 'dysco control frames v1';

export interface FrameAuthOptions {
  /** This agent's address (host-order number): the receiver of what it opens, the sender of what it seals. */
  self: number;
  maxSkewSeconds: number;
  /** Whether unsealed frames are still taken (a network moving to authenticated control frames). */
  acceptUnsealed: boolean;
  /** Wall clock, Unix seconds. */
  clock?: () => number;
}

export class FrameAuthenticator implements FrameAuth {
  private keys = new Map<number, Buffer>();
  private signingKeyId = 0;
  private readonly clock: () => number;

  constructor(
    ring: KeyRing,
    private readonly options: FrameAuthOptions,
  ) {
    this.clock = options.clock ?? (() => Math.floor(Date.now() / 1000));
    this.setRing(ring);
  }

  get required(): boolean {
    return !this.options.acceptUnsealed;
  }

  get maxSkewSeconds(): number {
    return this.options.maxSkewSeconds;
  }

  /** A rotated ring: frames sealed from now on use its signing key; those of retired keys no longer open. */
  setRing(ring: KeyRing): void {
    this.keys = new Map(ring.ids.map((id) => [id, createHmac('sha256', ring.key(id)!).update(CONTROL_KEY_LABEL).digest()]));
    this.signingKeyId = ring.signingKeyId;
  }

  seal(frame: Buffer, to: number): Buffer {
    const out = Buffer.alloc(frame.length + CONTROL_AUTH_TRAILER_BYTES);
    frame.copy(out);
    out[6] = out[6]! | CONTROL_FLAG_AUTHENTICATED;
    out.writeUInt16BE(this.signingKeyId, frame.length);
    out.writeUInt32BE(this.clock() >>> 0, frame.length + 2);
    this.tag(this.keys.get(this.signingKeyId)!, this.options.self, to, out).copy(out, out.length - TAG_BYTES);
    return out;
  }

  open(sealed: Buffer, from: number): FrameAuthOutcome {
    if (sealed.length < CONTROL_AUTH_TRAILER_BYTES + 16) return { ok: false, reason: 'truncated' };
    const block = sealed.length - CONTROL_AUTH_TRAILER_BYTES;
    const key = this.keys.get(sealed.readUInt16BE(block));
    if (key === undefined) return { ok: false, reason: 'unknown_key' };
    const expected = this.tag(key, from, this.options.self, sealed);
    let difference = 0;
    for (let i = 0; i < TAG_BYTES; i++) difference |= expected[i]! ^ sealed[sealed.length - TAG_BYTES + i]!;
    if (difference !== 0) return { ok: false, reason: 'bad_mac' };
    if (Math.abs(sealed.readUInt32BE(block + 2) - this.clock()) > this.options.maxSkewSeconds) return { ok: false, reason: 'stale' };
    const frame = Buffer.from(sealed.subarray(0, block));
    frame[6] = frame[6]! & ~CONTROL_FLAG_AUTHENTICATED;
    return { ok: true, frame };
  }

  /** The tag over the two addresses and `sealed` up to its tag. */
  private tag(key: Buffer, from: number, to: number, sealed: Buffer): Buffer {
    const addresses = Buffer.alloc(8);
    addresses.writeUInt32BE(from >>> 0, 0);
    addresses.writeUInt32BE(to >>> 0, 4);
    return createHmac('sha256', key).update(addresses).update(sealed.subarray(0, sealed.length - TAG_BYTES)).digest().subarray(0, TAG_BYTES);
  }
}
