// The agent's security section as the datapath takes it (native/addon/list_auth_js.h): the key ring, the clock skew
// a signed list may show, and which sessions may still be set up by unsigned lists while a network moves to signed
// ones. docs/security.md.
import { z } from 'zod';
import { parsePrefix } from '../net/ipv4';
import { parsePortSpec } from '../policy/model';
import { portSpecSchema, prefixSchema } from '../policy/validate';
import type { NativeListAuth, UnsignedListMatch } from '../native/session-types';
import { KeyRing, keyRingSchema } from './key-ring';

/** Sessions whose unsigned lists are still accepted: by source and destination prefix and destination port. */
export const unsignedMatchSchema = z
  .object({ srcPrefix: prefixSchema.optional(), dstPrefix: prefixSchema.optional(), dstPorts: portSpecSchema.optional() })
  .strict();

export const securityConfigSchema = z
  .object({
    // The ring: a key file (mode 0600, reloaded on SIGHUP) or inline keys, not both.
    keyFile: z.string().startsWith('/', 'must be an absolute path').optional(),
    keys: keyRingSchema.optional(),
    // How far a signer's clock may lie from ours, either way; a signed list older than this is refused as stale,
    // and copies of a list that set up a session are refused as replays for twice as long.
    maxClockSkewSeconds: z.number().int().min(1).max(86_400).default(30),
    // false: every unsigned list is refused; true: every one is accepted; a list of matches: those sessions' are.
    acceptUnsigned: z.union([z.boolean(), z.array(unsignedMatchSchema).max(64, 'at most 64 matches')]).default(false),
    // Signed lists remembered against replays; more set-ups than this within the replay window forget the oldest.
    replayCacheSlots: z.number().int().min(0).max(1 << 24).default(16_384),
  })
  .strict()
  .refine((s) => (s.keyFile === undefined) !== (s.keys === undefined), { message: 'give either keyFile or keys' });

export type SecurityConfig = z.output<typeof securityConfigSchema>;

/** The ring the section names: inline, or read from its key file (throws KeyRingError). */
export function keyRingOf(security: SecurityConfig): KeyRing {
  return security.keyFile !== undefined ? KeyRing.fromFile(security.keyFile) : KeyRing.parse(security.keys);
}

function unsignedMatch(match: z.output<typeof unsignedMatchSchema>): UnsignedListMatch {
  const src = parsePrefix(match.srcPrefix ?? '0.0.0.0/0')!;
  const dst = parsePrefix(match.dstPrefix ?? '0.0.0.0/0')!;
  const ports = parsePortSpec(match.dstPorts ?? '1-65535')!;
  return { srcNet: src.net, srcMask: src.mask, dstNet: dst.net, dstMask: dst.mask, dstPortLo: ports.lo, dstPortHi: ports.hi };
}

/** The datapath's form of the section with `ring` (the one loaded now). */
export function compileListAuth(security: SecurityConfig, ring: KeyRing): NativeListAuth {
  return {
    keys: ring.ids.map((id) => ({ id, key: ring.key(id)! })),
    signingKeyId: ring.signingKeyId,
    maxSkewSeconds: security.maxClockSkewSeconds,
    acceptUnsigned: typeof security.acceptUnsigned === 'boolean' ? security.acceptUnsigned : security.acceptUnsigned.map(unsignedMatch),
  };
}
