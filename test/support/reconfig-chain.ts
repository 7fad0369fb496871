// A chain of agents simulated in memory for the reconfiguration tests: one real ReconfigCoordinator per agent, a
// message bus between them whose delivery order, losses and duplicates the test decides, and a stand-in for the
// datapaths that answers the new path's handshake (or fails it) and drains the old path once both anchors run two
// paths. Nothing here decides anything the protocol decides; it only carries messages and datapath events.
import type { AnchorRole, DatapathCommand, DatapathInput } from '../../src/reconfig/datapath-io';
import { ReconfigCoordinator, type CoordinatorResult, type ReconfigOutput, type TimerRef } from '../../src/reconfig/coordinator';
import type { LeftAnchorTiming } from '../../src/reconfig/left-anchor';
import type { ReconfigId, ReconfigMessage, SeqDelta, Tuple } from '../../src/reconfig/messages';
import type { Outcome } from '../../src/reconfig/outcome';

export const addr = (n: number): number => (0x0a000000 + n) >>> 0;
export const A = addr(1);
export const B = addr(2);
export const M = (n: number): number => addr(10 + n);
export const SESSION: Tuple = { srcIp: A, dstIp: B, srcPort: 43210, dstPort: 80 };

export type BusItem =
  | { kind: 'message'; from: number; to: number; message: ReconfigMessage }
  | { kind: 'datapath'; to: number; input: DatapathInput };

export interface Finished {
  agent: number;
  role: AnchorRole;
  id: ReconfigId;
  outcome: Outcome;
}

interface NewPath {
  id: ReconfigId;
  left: number;
  right: number;
  hops: number[];
  leftNew: Tuple;
  rightNew: Tuple;
  twoPaths: Set<number>;
  folded: Set<number>;
}

const idKey = (id: ReconfigId) => `${id.leftAnchor}/${id.nonce}`;

export interface ChainOptions {
  deltas?: ReadonlyMap<number, SeqDelta>;
  unfixedDeltas?: ReadonlySet<number>;
  timing?: Partial<LeftAnchorTiming>;
}

export class Chain {
  readonly agents = new Map<number, ReconfigCoordinator>();
  /** The session's path as it is now, left to right. */
  path: number[];
  queue: BusItem[] = [];
  timers: { agent: number; timer: TimerRef; afterMs: number }[] = [];
  readonly finished: Finished[] = [];
  readonly results: { item: BusItem; result: CoordinatorResult }[] = [];
  readonly commands: { agent: number; command: DatapathCommand }[] = [];
  readonly retired: number[] = [];
  /** Decides, per left anchor, whether a new path's handshake succeeds. */
  newPathWorks: (leftAnchor: number) => boolean = () => true;
  private readonly newPaths = new Map<string, NewPath>();
  private nextPort = 20000;

  constructor(path: number[], private readonly options: ChainOptions = {}) {
    this.path = [...path];
    const { lefts, rights } = this.links(path);
    for (const here of path) {
      this.agent(here).addSession({
        session: SESSION,
        ...(lefts.has(here) && { left: lefts.get(here)! }),
        ...(rights.has(here) && { right: rights.get(here)! }),
        ...(options.deltas?.has(here) && { delta: options.deltas.get(here)! }),
        deltaFixed: !options.unfixedDeltas?.has(here),
      });
    }
  }

  agent(address: number): ReconfigCoordinator {
    let agent = this.agents.get(address);
    if (!agent) {
      agent = new ReconfigCoordinator({ self: address, firstNonce: (address & 0xff) * 1000, timing: this.options.timing ?? {} });
      this.agents.set(address, agent);
    }
    return agent;
  }

  /** Fresh subsessions between consecutive agents, each as its sender sends it. */
  private links(path: readonly number[]): { lefts: Map<number, Tuple>; rights: Map<number, Tuple> } {
    const lefts = new Map<number, Tuple>();
    const rights = new Map<number, Tuple>();
    for (let i = 0; i + 1 < path.length; i++) {
      const [x, y] = [path[i]!, path[i + 1]!];
      const port = this.nextPort++;
      rights.set(x, { srcIp: x, dstIp: y, srcPort: port, dstPort: port + 10000 });
      lefts.set(y, { srcIp: y, dstIp: x, srcPort: port + 10000, dstPort: port });
    }
    return { lefts, rights };
  }

  start(leftAnchor: number, rightAnchor: number, newHops: number[] = []): CoordinatorResult & { id?: ReconfigId } {
    const result = this.agent(leftAnchor).start({ session: SESSION, rightAnchor, newHops });
    this.take(leftAnchor, result.outputs);
    return result;
  }

  requestRemoval(middlebox: number): CoordinatorResult {
    const result = this.agent(middlebox).requestRemoval(SESSION);
    this.take(middlebox, result.outputs);
    return result;
  }

  deliver(index = 0): CoordinatorResult {
    const [item] = this.queue.splice(index, 1);
    if (!item) throw new Error('nothing to deliver');
    const agent = this.agent(item.to);
    const result = item.kind === 'message' ? agent.receive(item.message) : agent.datapath(item.input);
    this.results.push({ item, result });
    this.take(item.to, result.outputs);
    return result;
  }

  /** Deliver until the bus is empty; `choose` picks the next item (default: first in, first out). */
  run(choose: (length: number) => number = () => 0, maxSteps = 10_000): void {
    for (let i = 0; this.queue.length > 0; i++) {
      if (i >= maxSteps) throw new Error(`bus still busy after ${maxSteps} deliveries`);
      this.deliver(choose(this.queue.length));
    }
  }

  /** Fire every armed timer once (the machines ignore the ones they disarmed). */
  fireTimers(): void {
    for (const { agent, timer } of this.timers.splice(0)) this.take(agent, this.agent(agent).timeout(timer).outputs);
  }

  /** Run the bus, then timers, until both are quiet. */
  settle(maxRounds = 100): void {
    for (let round = 0; this.queue.length > 0 || this.timers.length > 0; round++) {
      if (round >= maxRounds) throw new Error('chain does not settle');
      this.run();
      this.fireTimers();
    }
  }

  /** Deliver until the bus is empty, losing on the way every item that matches. */
  runLosing(match: (item: BusItem) => boolean, maxSteps = 10_000): void {
    for (let i = 0; i < maxSteps; i++) {
      this.drop(match);
      if (!this.queue.length) return;
      this.deliver();
    }
    throw new Error(`bus still busy after ${maxSteps} deliveries`);
  }

  /** Drop the queued items that match, as a lossy network would. */
  drop(match: (item: BusItem) => boolean): BusItem[] {
    const dropped = this.queue.filter(match);
    this.queue = this.queue.filter((item) => !match(item));
    return dropped;
  }

  messagesOfType(type: ReconfigMessage['type']): BusItem[] {
    return this.queue.filter((item) => item.kind === 'message' && item.message.type === type);
  }

  outcomeOf(id: ReconfigId | undefined, role: AnchorRole = 'left'): Outcome | undefined {
    if (!id) return undefined;
    return this.finished.find((f) => f.role === role && idKey(f.id) === idKey(id))?.outcome;
  }

  /** Every lock, anchor and held request still in place in any agent. */
  leftovers(): string[] {
    const found: string[] = [];
    for (const [address, agent] of this.agents) {
      const seen = agent.inspect(SESSION);
      if (!seen) continue;
      if (seen.lock && (seen.lock.flag !== 'free' || seen.lock.held.length > 0)) found.push(`${address}: lock ${seen.lock.flag} held ${seen.lock.held.length}`);
      if (seen.leftAnchor && seen.leftAnchor.state !== 'Done') found.push(`${address}: left anchor ${seen.leftAnchor.state}`);
      if (seen.rightAnchor && !['Done', 'Canceled'].includes(seen.rightAnchor.state)) found.push(`${address}: right anchor ${seen.rightAnchor.state}`);
    }
    return found;
  }

  /** The path as the agents' own tables describe it, walking right from the session's left end. */
  walk(): number[] {
    const out = [this.path[0]!];
    for (let i = 0; i < 20; i++) {
      const right = this.agent(out[out.length - 1]!).inspect(SESSION)?.right;
      if (!right) return out;
      const next = this.agent(right.dstIp).inspect(SESSION);
      if (!next?.left || next.left.dstIp !== out[out.length - 1] || next.left.srcPort !== right.dstPort) throw new Error(`broken link at ${right.dstIp}`);
      out.push(right.dstIp);
    }
    throw new Error('path does not end');
  }

  private take(agent: number, outputs: ReconfigOutput[]): void {
    for (const out of outputs) {
      if (out.kind === 'send') this.queue.push({ kind: 'message', from: agent, to: out.to, message: out.message });
      else if (out.kind === 'timer') this.timers.push({ agent, timer: out.timer, afterMs: out.afterMs });
      else if (out.kind === 'finished') this.finished.push({ agent, role: out.role, id: out.id, outcome: out.outcome });
      else this.onCommand(agent, out.command);
    }
  }

  private onCommand(agent: number, command: DatapathCommand): void {
    this.commands.push({ agent, command });
    const dp = (to: number, input: DatapathInput): void => void this.queue.push({ kind: 'datapath', to, input });
    if (command.command === 'retireSession') {
      this.retired.push(agent);
      return;
    }
    if (command.command === 'sendNewPathSyn') {
      if (!this.newPathWorks(agent)) return dp(agent, { event: 'newPathFailed', session: SESSION });
      const hops = command.hops.slice(0, -1);
      const right = command.hops[command.hops.length - 1]!;
      const { lefts, rights } = this.links([agent, ...hops, right]);
      for (const hop of hops) this.agent(hop).addSession({ session: SESSION, left: lefts.get(hop)!, right: rights.get(hop)! });
      const leftNew = rights.get(agent)!;
      const rightNew = lefts.get(right)!;
      this.newPaths.set(idKey(command.id), { id: command.id, left: agent, right, hops, leftNew, rightNew, twoPaths: new Set(), folded: new Set() });
      return dp(right, { event: 'newPathSyn', session: SESSION, newSubsession: rightNew });
    }
    const path = this.newPaths.get(idKey(command.id));
    if (!path && command.command === 'abandonNewPath') return; // its SYN failed before any hop was set up
    if (!path) throw new Error(`${command.command} for a new path never opened`);
    switch (command.command) {
      case 'sendNewPathSynAck':
        return dp(path.left, { event: 'newPathSynAck', session: SESSION, newSubsession: path.leftNew });
      case 'sendNewPathAck':
        return dp(path.right, { event: 'newPathAck', session: SESSION });
      case 'enterTwoPaths':
        path.twoPaths.add(agent);
        if (path.twoPaths.size === 2) {
          dp(path.left, { event: 'oldPathDrained', session: SESSION, role: 'left' });
          dp(path.right, { event: 'oldPathDrained', session: SESSION, role: 'right' });
        }
        return;
      case 'foldNewPath':
        path.folded.add(agent);
        if (path.folded.size === 2) {
          const l = this.path.indexOf(path.left);
          const r = this.path.indexOf(path.right);
          this.path = [...this.path.slice(0, l + 1), ...path.hops, ...this.path.slice(r)];
        }
        return;
      case 'abandonNewPath':
        for (const hop of path.hops) this.agent(hop).removeSession(SESSION);
        return;
    }
  }
}
