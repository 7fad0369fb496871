import type { ReconfigId, Tuple } from './messages';

export function sameTuple(a: Tuple, b: Tuple): boolean {
  return a.srcIp === b.srcIp && a.dstIp === b.dstIp && a.srcPort === b.srcPort && a.dstPort === b.dstPort;
}

/** The same subsession as the agent at its other end sends it. */
export function reverseTuple(t: Tuple): Tuple {
  return { srcIp: t.dstIp, dstIp: t.srcIp, srcPort: t.dstPort, dstPort: t.srcPort };
}

export function tupleKey(t: Tuple): string {
  return `${t.srcIp >>> 0}:${t.srcPort}>${t.dstIp >>> 0}:${t.dstPort}`;
}

export function sameId(a: ReconfigId, b: ReconfigId): boolean {
  return a.leftAnchor === b.leftAnchor && a.nonce === b.nonce;
}

/** The ids an agent has answered for good, so that a late duplicate gets the same answer. Bounded; oldest go first. */
export class FinishedIds<T> {
  private readonly entries: { id: ReconfigId; value: T }[] = [];
  constructor(private readonly capacity = 16) {}

  remember(id: ReconfigId, value: T): void {
    const at = this.entries.findIndex((e) => sameId(e.id, id));
    if (at >= 0) this.entries.splice(at, 1);
    this.entries.push({ id, value });
    if (this.entries.length > this.capacity) this.entries.shift();
  }

  lookup(id: ReconfigId): T | undefined {
    return this.entries.find((e) => sameId(e.id, id))?.value;
  }
}
