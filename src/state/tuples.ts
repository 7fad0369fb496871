// The session tuples that state adapters take: checked at the edge.
import type { Tuple } from '../reconfig/messages';

export function validTuple(t: Tuple | undefined): t is Tuple {
  const u32 = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;
  const port = (v: unknown) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 0xffff;
  return t !== undefined && t !== null && u32(t.srcIp) && u32(t.dstIp) && port(t.srcPort) && port(t.dstPort);
}

export function checkTuple(t: Tuple, what: string): void {
  if (!validTuple(t)) throw new TypeError(`${what}: a tuple needs srcIp and dstIp (uint32) and srcPort and dstPort (1..65535)`);
}
